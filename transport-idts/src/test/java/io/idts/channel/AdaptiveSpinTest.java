package io.idts.channel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdaptiveSpinTest {

    private static final long US = TimeUnit.MICROSECONDS.toNanos(1);

    @Test
    void aLoopNeverSpinsBeforeItHasSeenAShortWait() {
        AdaptiveSpin spin = new AdaptiveSpin();
        assertEquals(0, spin.spinNanos());
        // Woken long after it blocked: spinning would not have saved the wake-up.
        spin.woke(AdaptiveSpin.MAX_NANOS);
        spin.woke(10 * AdaptiveSpin.MAX_NANOS);
        assertEquals(0, spin.spinNanos());
    }

    @Test
    void aShortWaitMakesTheLoopSpinTwiceAsLongUpToTheMaximum() {
        AdaptiveSpin spin = new AdaptiveSpin();
        spin.woke(5 * US);
        assertEquals(10 * US, spin.spinNanos());
        // A shorter wait later does not shrink it: only misses do.
        spin.woke(2 * US);
        assertEquals(10 * US, spin.spinNanos());
        spin.found(20 * US);
        assertEquals(Math.min(AdaptiveSpin.MAX_NANOS, 40 * US), spin.spinNanos());
        spin.woke(AdaptiveSpin.MAX_NANOS - 1);
        assertEquals(AdaptiveSpin.MAX_NANOS, spin.spinNanos());
    }

    @Test
    void missesHalveTheSpinUntilItStops() {
        AdaptiveSpin spin = new AdaptiveSpin();
        spin.woke(AdaptiveSpin.MAX_NANOS - 1);
        long total = 0;
        int misses = 0;
        while (spin.spinNanos() > 0) {
            total += spin.spinNanos();
            spin.missed();
            misses++;
            assertTrue(misses < 64, "the spin never stops: " + spin.spinNanos());
        }
        // An idle loop wastes at most twice the longest spin before it blocks at once, whatever came before.
        assertTrue(total <= 2 * AdaptiveSpin.MAX_NANOS, total + " ns spun in all");
        spin.missed();
        assertEquals(0, spin.spinNanos());
    }

    @Test
    void aVeryShortWaitStillGivesASpinWorthStarting() {
        AdaptiveSpin spin = new AdaptiveSpin();
        spin.found(0);
        assertEquals(2 * AdaptiveSpin.MIN_NANOS, spin.spinNanos());
        spin.missed();
        assertEquals(AdaptiveSpin.MIN_NANOS, spin.spinNanos());
        spin.missed();
        assertEquals(0, spin.spinNanos());
    }
}
