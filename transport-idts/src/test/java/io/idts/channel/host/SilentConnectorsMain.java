package io.idts.channel.host;

import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.linux.FileDescriptors;
import io.idts.linux.NativeIoException;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.UnixDomainSocket;

import java.util.ArrayList;
import java.util.List;

/**
 * A child JVM's main for {@link HostListenerTest}: {@code SilentConnectorsMain <address> <count>} keeps {@code count}
 * connections to the server's rendezvous socket open that never send a HELLO (issue 14, item 4): whenever the server
 * closes one (a refusal, a HELLO timeout), it connects again, so the flood never lets up. Prints {@code FLOODING} once
 * it has made {@code count} connections, and stops when stdin closes.
 */
public final class SilentConnectorsMain {

    /** How often the connections are checked for the server's hang-up. */
    private static final long SWEEP_MILLIS = 50;

    private SilentConnectorsMain() {
    }

    public static void main(String[] args) throws Exception {
        String name = IdtsAddress.parse(args[0]).abstractSocketName();
        int count = Integer.parseInt(args[1]);
        List<Integer> sockets = new ArrayList<>();
        Thread flood = new Thread(() -> {
            byte[] probe = new byte[1];
            boolean announced = false;
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    synchronized (sockets) {
                        for (int i = sockets.size() - 1; i >= 0; i--) {
                            int socket = sockets.get(i);
                            ReceivedMessage message;
                            try {
                                message = UnixDomainSocket.receive(socket, probe, 0, 1, 0);
                            } catch (NativeIoException e) {
                                message = null;
                            }
                            if (message == null || message.bytes() >= 0) {
                                // Refused or dropped: replaced below.
                                FileDescriptors.closeQuietly(socket);
                                sockets.remove(i);
                            }
                        }
                        while (sockets.size() < count) {
                            try {
                                sockets.add(UnixDomainSocket.connect(name));
                            } catch (NativeIoException e) {
                                // The backlog is full: the server has this many queued already.
                                break;
                            }
                        }
                        if (!announced && sockets.size() >= count) {
                            announced = true;
                            System.out.println("FLOODING");
                            System.out.flush();
                        }
                    }
                    Thread.sleep(SWEEP_MILLIS);
                }
            } catch (InterruptedException e) {
                // Stop.
            } catch (Exception e) {
                e.printStackTrace();
            }
        }, "silent-connectors");
        flood.start();
        ChildJvm.awaitStdinClosed();
        flood.interrupt();
        flood.join();
        synchronized (sockets) {
            for (int socket : sockets) {
                FileDescriptors.closeQuietly(socket);
            }
        }
    }
}
