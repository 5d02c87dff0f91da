package io.idts.channel;

import io.idts.linux.FileDescriptors;
import io.netty.channel.AbstractServerChannel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ServerChannel} that accepts {@link IdtsChannel}s on an {@link IdtsAddress}:
 * {@code new ServerBootstrap().group(group).channel(IdtsServerChannel.class).bind(IdtsAddress.of("orders"))}.
 *
 * <p>Each accepted connection completes the IDTS handshake (the connecting process hands over the shared region and
 * its notification descriptors) before its channel reaches the pipeline; a process that connects and sends nothing
 * is dropped after {@value HostHandshake#HELLO_TIMEOUT_MILLIS} ms. Only processes of the same user may connect.
 */
public final class IdtsServerChannel extends AbstractServerChannel {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(IdtsServerChannel.class);

    private final ChannelConfig config = new DefaultChannelConfig(this);
    private final Set<PendingHandshake> handshakes = new HashSet<>();
    private volatile boolean open = true;
    private volatile IdtsAddress localAddress;

    // Touched on the event loop only.
    private HostListener listener;
    private IoRegistration registration;
    private IoRegistration listenWatch;
    private boolean readPending;

    /** A server channel to be bound; {@code ServerBootstrap} makes it by reflection. */
    public IdtsServerChannel() {
    }

    @Override
    public ChannelConfig config() {
        return config;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isActive() {
        return open && localAddress != null;
    }

    @Override
    public IdtsAddress localAddress() {
        return (IdtsAddress) super.localAddress();
    }

    @Override
    public IdtsAddress remoteAddress() {
        return null;
    }

    @Override
    protected SocketAddress localAddress0() {
        return localAddress;
    }

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new IdtsServerUnsafe();
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return loop instanceof IoEventLoop && ((IoEventLoop) loop).isCompatible(IdtsServerUnsafe.class);
    }

    @Override
    protected void doRegister(ChannelPromise promise) {
        ((IoEventLoop) eventLoop()).register((IdtsServerUnsafe) unsafe()).addListener(f -> {
            if (f.isSuccess()) {
                registration = (IoRegistration) f.getNow();
                promise.setSuccess();
            } else {
                promise.setFailure(f.cause());
            }
        });
    }

    @Override
    protected void doDeregister() {
        IoRegistration registration = this.registration;
        if (registration != null) {
            this.registration = null;
            registration.cancel();
        }
    }

    @Override
    protected void doBind(SocketAddress localAddress) throws Exception {
        if (!(localAddress instanceof IdtsAddress)) {
            throw new IllegalArgumentException("IDTS server channels bind to an IdtsAddress, not "
                    + (localAddress == null ? "null" : localAddress.getClass().getName()));
        }
        IdtsAddress address = (IdtsAddress) localAddress;
        HostListener listener = HostListener.listen(address);
        try {
            // Edge-triggered: while accepting is paused (autoRead off) connections wait in the backlog.
            listenWatch = ((IdtsIoHandler) registration.attachment()).watch(
                    new FdWatch(listener.fd(), ops -> acceptReady()), EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLET));
        } catch (Exception e) {
            listener.close();
            throw e;
        }
        this.listener = listener;
        this.localAddress = address;
    }

    @Override
    protected void doClose() {
        open = false;
        if (listenWatch != null) {
            listenWatch.cancel();
            listenWatch = null;
        }
        if (listener != null) {
            listener.close();
            listener = null;
        }
        for (PendingHandshake handshake : new ArrayList<>(handshakes)) {
            handshake.abort();
        }
    }

    @Override
    protected void doBeginRead() {
        if (readPending || listener == null) {
            return;
        }
        readPending = true;
        // The listening socket is edge-triggered: connections that arrived while accepting was paused raise no new
        // edge, so look for them now.
        eventLoop().execute(this::acceptReady);
    }

    private void acceptReady() {
        if (listener == null || !(readPending || config.isAutoRead())) {
            return;
        }
        RecvByteBufAllocator.Handle allocHandle = unsafe().recvBufAllocHandle();
        allocHandle.reset(config);
        boolean drained = false;
        try {
            do {
                int fd = listener.accept();
                if (fd < 0) {
                    drained = true;
                    break;
                }
                allocHandle.incMessagesRead(1);
                readPending = false;
                startHandshake(fd);
            } while (allocHandle.continueReading());
        } catch (IOException e) {
            drained = true;
            logger.warn("Failed to accept a connection on {}", this, e);
            pipeline().fireExceptionCaught(e);
        }
        allocHandle.readComplete();
        if (!drained && config.isAutoRead() && listener != null) {
            // A burst larger than one read's worth may still wait, and no new edge will tell us.
            eventLoop().execute(this::acceptReady);
        }
    }

    private void startHandshake(int fd) {
        PendingHandshake handshake = new PendingHandshake(fd);
        try {
            handshake.watch = ((IdtsIoHandler) registration.attachment()).watch(
                    new FdWatch(fd, ops -> handshake.ready()), EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        } catch (Exception e) {
            logger.warn("Could not watch an accepted IDTS connection on {}", this, e);
            FileDescriptors.closeQuietly(fd);
            return;
        }
        handshake.timeout = eventLoop().schedule(handshake::expire, HostHandshake.HELLO_TIMEOUT_MILLIS,
                TimeUnit.MILLISECONDS);
        handshakes.add(handshake);
    }

    private void accepted(HostListener.Accepted accepted) {
        IdtsChannel child;
        try {
            // The child takes over its lines of the region and becomes OPEN before the connector hears ACCEPTED.
            child = new IdtsChannel(this, accepted.connection, localAddress, localAddress.sibling(accepted.peerName));
            accepted.confirm();
        } catch (IOException e) {
            accepted.connection.close();
            logger.warn("Dropped an IDTS connection on {}: {}", this, e.getMessage());
            return;
        }
        ChannelPipeline pipeline = pipeline();
        pipeline.fireChannelRead(child);
        pipeline.fireChannelReadComplete();
    }

    /** An accepted socket whose HELLO has not arrived yet. */
    private final class PendingHandshake {
        private final int fd;
        IoRegistration watch;
        Future<?> timeout;

        PendingHandshake(int fd) {
            this.fd = fd;
        }

        void ready() {
            HostListener.Accepted accepted;
            try {
                accepted = HostListener.receiveHello(fd);
                if (accepted == null) {
                    return;
                }
            } catch (HostHandshake.Rejection | IOException e) {
                logger.debug("IDTS handshake on {} failed: {}", IdtsServerChannel.this, e.getMessage());
                abort();
                return;
            }
            finish();
            accepted(accepted);
        }

        void expire() {
            if (handshakes.contains(this)) {
                logger.warn("Dropped a connection to {}: no IDTS handshake within {} ms", IdtsServerChannel.this,
                        HostHandshake.HELLO_TIMEOUT_MILLIS);
                abort();
            }
        }

        /** The connection owns the socket now: stop watching it, keep it open. */
        private void finish() {
            handshakes.remove(this);
            watch.cancel();
            timeout.cancel(false);
        }

        void abort() {
            finish();
            FileDescriptors.closeQuietly(fd);
        }
    }

    private final class IdtsServerUnsafe extends AbstractUnsafe implements IdtsIoHandle {
        @Override
        public int poll() {
            return 0;
        }

        @Override
        public boolean prepareToSleep() {
            return false;
        }

        @Override
        public long spinTimeNanos() {
            return 0;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent ioEvent) {
            // Accepting is driven by the epoll watch on the listening socket.
        }

        @Override
        public void close() {
            close(voidPromise());
        }

        @Override
        public void connect(SocketAddress remoteAddress, SocketAddress localAddress, ChannelPromise promise) {
            promise.setFailure(new UnsupportedOperationException("a server channel does not connect"));
        }
    }
}
