package io.idts.testsuite;

import io.idts.linux.EventFd;
import io.idts.linux.NativeIoException;

/**
 * Hostile: a thread that writes an eventfd as fast as it can until closed (a notification flood). A full counter
 * ({@code EAGAIN}) is skipped over; any other failure (the descriptor closed under it) ends the flood.
 */
public final class EventFdFlood implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stop;
    private volatile long signals;

    public EventFdFlood(int eventFd) {
        thread = new Thread(() -> {
            long n = 0;
            while (!stop) {
                try {
                    EventFd.signal(eventFd);
                    n++;
                    if ((n & 1023) == 0) {
                        signals = n;
                    }
                } catch (NativeIoException e) {
                    if (e.errno() != io.idts.linux.Errno.EAGAIN) {
                        break;
                    }
                }
            }
            signals = n;
        }, "eventfd-flood");
        thread.setDaemon(true);
        thread.start();
    }

    /** Notifications sent so far (updated every 1024). */
    public long signals() {
        return signals;
    }

    /** Stops the flood and waits for its thread. Call before closing the descriptor. */
    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join();
    }
}
