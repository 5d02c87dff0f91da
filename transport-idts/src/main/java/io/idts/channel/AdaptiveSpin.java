package io.idts.channel;

import io.netty.util.internal.SystemPropertyUtil;

import java.util.concurrent.TimeUnit;

/**
 * How long an event loop whose channels use the adaptive spin ({@link IdtsChannelOption#SPIN_TIME_NANOS} {@value
 * IdtsChannelOption#SPIN_ADAPTIVE}, the default) keeps polling its rings after it ran out of work, before it arms the
 * notifications and blocks.
 *
 * <p>Blocking costs a wake-up when the peer's next bytes come: two system calls and a trip through the scheduler on
 * each side, tens of microseconds on a small machine, which is the whole round trip of a ping-pong. Spinning costs a
 * core for as long as it lasts. So the loop spins only as long as the waits it has seen lately were short: the spin
 * grows to twice the wait after a notification woke the loop sooner than {@link #MAX_NANOS} after it blocked (had it
 * spun that long, no wake-up would have been needed), stays while spins find work, and halves after each spin that
 * found none. A loop that is idle, or whose peers answer slower than {@link #MAX_NANOS}, drops to no spin within a
 * few turns and then costs nothing; a loop never spins before it has seen a short wait. This is the scheme of Linux's
 * adaptive busy polling and of Aeron's back-off idle strategy, sized from what the waits measure here.
 *
 * <p>Event loop only.
 */
final class AdaptiveSpin {

    /** The longest adaptive spin (system property {@code io.idts.adaptiveSpinMaxNanos}). */
    static final long MAX_NANOS = Math.max(0, SystemPropertyUtil.getLong("io.idts.adaptiveSpinMaxNanos",
            TimeUnit.MICROSECONDS.toNanos(50)));
    /** Below this a spin is not worth starting: the loop blocks at once. */
    static final long MIN_NANOS = TimeUnit.MICROSECONDS.toNanos(1);

    private long spinNanos;

    /** How long to spin now; {@code 0} blocks at once. */
    long spinNanos() {
        return spinNanos;
    }

    /** A spin found work after {@code waitedNanos}: waits are short, keep spinning at least twice as long. */
    void found(long waitedNanos) {
        grow(waitedNanos);
    }

    /** A spin ran out with no work: the waits got longer, or the peer went quiet. */
    void missed() {
        spinNanos >>= 1;
        if (spinNanos < MIN_NANOS) {
            spinNanos = 0;
        }
    }

    /** A notification from a peer woke the loop {@code sleptNanos} after it blocked. */
    void woke(long sleptNanos) {
        if (sleptNanos < MAX_NANOS) {
            grow(sleptNanos);
        }
    }

    private void grow(long waitedNanos) {
        long wanted = Math.min(MAX_NANOS, 2 * Math.max(waitedNanos, MIN_NANOS));
        if (wanted > spinNanos) {
            spinNanos = wanted;
        }
    }
}
