package io.idts.channel;

import io.idts.channel.backend.IdtsBackend;

import io.netty.channel.AbstractServerChannel;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayDeque;

/**
 * A {@link ServerChannel} that accepts {@link IdtsChannel}s on an {@link IdtsAddress}:
 * {@code new ServerBootstrap().group(group).channel(IdtsServerChannel.class).bind(IdtsAddress.of("orders"))}.
 *
 * <p>Each accepted connection completes the IDTS handshake (the connecting side hands over the shared region and the
 * means to notify) before its channel reaches the pipeline. On a host address, a process that connects and sends
 * nothing is dropped after {@link IdtsChannelOption#HELLO_TIMEOUT_MILLIS}, only processes of the same user may connect,
 * and the server's limits ({@link IdtsServerChannelConfig}) bound what each may make it hold. On a Xen address ({@code
 * IdtsAddress.xen(ownDomid, "orders")}) the service is published in XenStore and any domain that may share pages with
 * this one may connect.
 *
 * <p>As a listening socket does, the channel completes handshakes whether or not it is reading: a connect succeeds
 * once the handshake is done, and the connection waits, up to {@code SO_BACKLOG} of them, until the channel reads it
 * ({@code AUTO_READ}, or {@code read()}). A connection still waiting when the channel closes is closed.
 *
 * <p>Bound to an address {@link IdtsAddress#withTcp with a TCP address}, the channel listens on both: it also runs a
 * Netty {@code EpollServerSocketChannel} on its own event loop, bound when it binds and closed when it closes, and
 * hands the TCP connections it accepts to the same pipeline, so one {@code ServerBootstrap}, one child handler and one
 * {@code close()} serve both routes. The TCP children are Netty's own {@code EpollSocketChannel}s (so the child group
 * must be able to run them, as an {@link IdtsEventLoopGroup} can); {@link IdtsRoute#of} tells the two kinds apart.
 * {@code localAddress()} then carries the TCP address actually bound (the port chosen for a port of 0). Child options
 * apply to both kinds; those of one kind only are ignored by the other, with Netty's warning.
 */
public final class IdtsServerChannel extends AbstractServerChannel {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(IdtsServerChannel.class);

    private final IdtsServerChannelConfig config = new IdtsServerChannelConfig(this);
    /** Handshaken connections not read yet: the accept queue of a listening socket. */
    private final ArrayDeque<Channel> acceptQueue = new ArrayDeque<>();
    private volatile boolean open = true;
    private volatile IdtsAddress localAddress;

    // Touched on the event loop only.
    private IdtsBackend.Listener listener;
    /** The TCP listener when bound to an address with a TCP address; {@code null} otherwise. */
    private Channel tcpServer;
    private IoRegistration registration;
    private boolean readPending;

    /** A server channel to be bound; {@code ServerBootstrap} makes it by reflection. */
    public IdtsServerChannel() {
    }

    @Override
    public IdtsServerChannelConfig config() {
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
        IdtsAddress idtsAddress = address.withoutTcp();
        listener = idtsAddress.backend().listen(idtsAddress, (IdtsIoHandler) registration.attachment(),
                eventLoop(), new AcceptEvents());
        if (address.tcpAddress() != null) {
            try {
                idtsAddress = idtsAddress.withTcp(bindTcp(address.tcpAddress()));
            } catch (Throwable t) {
                listener.close();
                listener = null;
                throw t;
            }
        }
        this.localAddress = idtsAddress;
    }

    /** Binds the TCP listener on this channel's event loop, where registering and binding complete at once. */
    private InetSocketAddress bindTcp(InetSocketAddress address) throws Exception {
        EpollServerSocketChannel server = new EpollServerSocketChannel();
        server.config().setBacklog(config.getBacklog());
        server.pipeline().addLast(new TcpAcceptor());
        ChannelFuture bound = eventLoop().register(server);
        if (bound.isDone() && bound.isSuccess()) {
            bound = server.bind(address);
        }
        if (!bound.isDone()) {
            // Cannot happen on the event loop; if it ever does, say so rather than wait on our own thread.
            server.close();
            throw new IllegalStateException("the TCP listener of " + this + " did not bind at once");
        }
        if (!bound.isSuccess()) {
            server.close();
            Throwable cause = bound.cause();
            BindException failed = new BindException("IDTS server on " + localAddress + " cannot listen on TCP "
                    + address + ": " + cause.getMessage());
            failed.initCause(cause);
            throw failed;
        }
        tcpServer = server;
        return (InetSocketAddress) server.localAddress();
    }

    @Override
    protected void doClose() {
        open = false;
        if (listener != null) {
            // Drops the handshakes under way, too.
            listener.close();
            listener = null;
        }
        if (tcpServer != null) {
            tcpServer.close();
            tcpServer = null;
        }
        // As a listening socket that closes drops the connections it had not handed over. The children were never
        // registered: closing them tells their peers (CLOSED in the ring, or a TCP reset) and releases their regions.
        for (Channel child; (child = acceptQueue.poll()) != null;) {
            child.unsafe().closeForcibly();
        }
    }

    @Override
    protected void doBeginRead() {
        if (readPending || listener == null) {
            return;
        }
        readPending = true;
        // Not from within read(): a handler that calls read() in channelRead must not be re-entered.
        eventLoop().execute(this::readAccepted);
    }

    /** How many connections may be in handshake or wait to be read; {@code 0} lets one wait, as listen(2) does. */
    private int backlogLimit() {
        return Math.max(1, config.getBacklog());
    }

    /** A handshake ended or a waiting connection was read: accepting goes on if it stopped for want of room. */
    private void resumeAccepting() {
        if (listener != null) {
            listener.resume();
        }
        if (tcpServer != null && !tcpServer.config().isAutoRead() && backlogLimit() - acceptQueue.size() > 0) {
            tcpServer.config().setAutoRead(true);
        }
    }

    /** Hands waiting connections to the pipeline, as many as the read allows, if the channel is reading. */
    private void readAccepted() {
        if (acceptQueue.isEmpty() || !(readPending || config.isAutoRead())) {
            return;
        }
        ChannelPipeline pipeline = pipeline();
        RecvByteBufAllocator.Handle allocHandle = unsafe().recvBufAllocHandle();
        allocHandle.reset(config);
        do {
            Channel child = acceptQueue.poll();
            if (child == null) {
                break;
            }
            allocHandle.incMessagesRead(1);
            readPending = false;
            pipeline.fireChannelRead(child);
        } while (allocHandle.continueReading());
        allocHandle.readComplete();
        pipeline.fireChannelReadComplete();
        resumeAccepting();
        if (!acceptQueue.isEmpty() && config.isAutoRead()) {
            // More than one read's worth waits: the rest on the next turn, after other work of the loop.
            eventLoop().execute(this::readAccepted);
        }
    }

    /** What the backend's listener reports: room in the backlog, handshakes completed, failures. */
    private final class AcceptEvents implements IdtsBackend.ListenerEvents {
        @Override
        public IdtsServerChannelConfig config() {
            return config;
        }

        @Override
        public int room() {
            return backlogLimit() - acceptQueue.size();
        }

        @Override
        public void accepted(IdtsBackend.AcceptedConnection accepted) {
            IdtsChannel child;
            try {
                // The child takes over its lines of the region and becomes OPEN before the connector hears that it
                // is accepted.
                child = new IdtsChannel(IdtsServerChannel.this, accepted.connection(), localAddress,
                        accepted.peerAddress());
                accepted.confirm();
            } catch (IOException | RuntimeException e) {
                accepted.connection().close();
                logger.warn("Dropped an IDTS connection on {}: {}", IdtsServerChannel.this, e.getMessage(), e);
                resumeAccepting();
                return;
            }
            // The connector is connected now, as a TCP client is once the kernel has queued its connection; the
            // child reaches the pipeline when the channel reads.
            acceptQueue.add(child);
            readAccepted();
        }

        @Override
        public void failed(Throwable cause) {
            logger.warn("Failed to accept a connection on {}", IdtsServerChannel.this, cause);
            pipeline().fireExceptionCaught(cause);
        }
    }

    /** Takes the connections the TCP listener accepts into the accept queue, alongside the IDTS ones. */
    private final class TcpAcceptor extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            if (!open) {
                child.unsafe().closeForcibly();
                return;
            }
            acceptQueue.add(child);
            if (backlogLimit() - acceptQueue.size() <= 0) {
                // The rest waits in the kernel's backlog until resumeAccepting() makes room.
                ctx.channel().config().setAutoRead(false);
            }
            readAccepted();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            logger.warn("Failed to accept a TCP connection on {}", IdtsServerChannel.this, cause);
            pipeline().fireExceptionCaught(cause);
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
