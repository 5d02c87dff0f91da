package io.idts.testsuite;

import io.idts.linux.NativeIoException;
import io.idts.linux.NotificationSocket;

/**
 * Hostile: a thread that writes notifications into a notification socket as fast as it can until closed (a
 * notification flood). A full socket buffer is skipped over ({@link NotificationSocket#signal} ignores it); any other
 * failure (the descriptor closed under it, the other end gone) ends the flood.
 */
public final class NotificationFlood implements AutoCloseable {

    private final Thread thread;
    private volatile boolean stop;
    private volatile long signals;

    public NotificationFlood(int notificationFd) {
        thread = new Thread(() -> {
            long n = 0;
            while (!stop) {
                try {
                    NotificationSocket.signal(notificationFd);
                    n++;
                    if ((n & 1023) == 0) {
                        signals = n;
                    }
                } catch (NativeIoException e) {
                    break;
                }
            }
            signals = n;
        }, "notification-flood");
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
