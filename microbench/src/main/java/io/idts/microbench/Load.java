package io.idts.microbench;

import org.HdrHistogram.Histogram;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Traffic that the client generates on one transport until it is stopped: ping-pongs on one or more connections
 * (each with one ping in flight) or one-way streams. The main thread opens and closes the measurement window; the
 * traffic itself runs on the transport's own thread (the event loop, or Aeron's busy-spinning thread).
 */
abstract class Load {

    /** How long a stopping load may take to finish its last round trips before the run fails. */
    static final long STOP_TIMEOUT_SECONDS = 30;

    private final CountDownLatch stopped;
    private volatile boolean measuring;
    private volatile boolean stopping;
    private volatile Throwable failure;
    /** Round trips completed or bytes handed to the transport, for the stall check: lazily published. */
    private final AtomicLong progress = new AtomicLong();

    Load(int parties) {
        stopped = new CountDownLatch(parties);
    }

    final boolean measuring() {
        return measuring;
    }

    final boolean stopping() {
        return stopping;
    }

    final void beginMeasure() {
        measuring = true;
    }

    final void endMeasure() {
        measuring = false;
    }

    /** Called by the traffic's thread as it makes progress (single writer per load thread). */
    final void progressed(long n) {
        progress.lazySet(progress.get() + n);
    }

    final long progress() {
        return progress.get();
    }

    /** One party (a connection, a thread) has stopped. */
    final void partyStopped() {
        stopped.countDown();
    }

    final void fail(Throwable cause) {
        if (failure == null) {
            failure = cause;
        }
    }

    final Throwable failure() {
        return failure;
    }

    /** Throws the first failure of the traffic, if any. */
    final void check(String what) throws Exception {
        Throwable cause = failure;
        if (cause != null) {
            throw new IllegalStateException(what + " failed: " + cause, cause);
        }
    }

    /** Asks the traffic to stop after its current round trips and waits until every party has stopped. */
    void stop(String what) throws Exception {
        stopping = true;
        onStopping();
        if (!stopped.await(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            throw new TimeoutException(what + ": the traffic did not stop within " + STOP_TIMEOUT_SECONDS + " s ("
                    + stopped.getCount() + " connections still busy)");
        }
        check(what);
    }

    /** Called once the traffic has been asked to stop: a party that waits for an event may need a nudge. */
    void onStopping() {
    }

    /** Closes the connections (and frees what else the load holds). */
    void close() {
    }

    /**
     * Timed units of work, one in flight per connection, timed into one histogram: ping-pongs of {@code size} bytes,
     * and likewise connection set-ups (each echoing {@code size} bytes once) and HTTP requests ({@code size} unused).
     */
    abstract static class Pings extends Load {
        final int size;
        /** Their times in nanoseconds, recorded by the traffic's single thread while measuring. */
        final Histogram histogram = new Histogram(3);

        Pings(int size, int parties) {
            super(parties);
            this.size = size;
        }

        /** Called by the traffic's thread for every completed round trip. */
        final void record(long nanos) {
            if (measuring()) {
                histogram.recordValue(nanos);
            }
            progressed(1);
        }
    }

    /** One-way streams of {@code size}-byte writes: what counts is what the server's sink receives. */
    abstract static class Stream extends Load {
        final int size;

        Stream(int size, int parties) {
            super(parties);
            this.size = size;
        }
    }
}
