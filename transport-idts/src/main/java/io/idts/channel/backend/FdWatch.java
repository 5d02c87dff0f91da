package io.idts.channel.backend;

import io.idts.channel.IdtsIoHandler;


import io.netty.channel.IoEvent;
import io.netty.channel.IoHandler;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;

/**
 * A file descriptor watched by the epoll half of {@link IdtsIoHandler}: a notification socket the peer writes to,
 * the rendezvous socket whose hang-up means the peer is gone, or a listening socket. The descriptor is owned and
 * closed by whoever created the watch; cancel the watch before closing it.
 */
public final class FdWatch implements EpollIoHandle {

    /** What to do when the descriptor is ready. */
    public interface Listener {
        void ready(EpollIoOps ops);
    }

    private final FileDescriptor fd;
    private final Listener listener;

    public FdWatch(int fd, Listener listener) {
        // Netty's FileDescriptor is only a holder here: we never call its close(), the owner closes the fd.
        this.fd = new FileDescriptor(fd);
        this.listener = listener;
    }

    /**
     * Starts watching the descriptor for {@code ops} with the epoll half of {@code handler}. Call on the handler's
     * event loop; cancel the returned registration before closing the descriptor.
     */
    public IoRegistration register(IoHandler handler, EpollIoOps ops) throws Exception {
        IoRegistration registration = handler.register(this);
        registration.submit(ops);
        return registration;
    }

    @Override
    public FileDescriptor fd() {
        return fd;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent ioEvent) {
        listener.ready(((EpollIoEvent) ioEvent).ops());
    }

    @Override
    public void close() {
        // Nothing: the owner of the descriptor closes it after cancelling the watch.
    }
}
