package io.idts.channel;

import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.UnixDomainSocket;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.AbstractChannel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.FileRegion;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.StringUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AlreadyConnectedException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ConnectionPendingException;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A byte-stream channel to a peer on the same machine through two shared-memory rings, one per direction.
 *
 * <p>Use it as any Netty stream channel: {@code new Bootstrap().group(new IdtsEventLoopGroup())
 * .channel(IdtsChannel.class).connect(IdtsAddress.of("orders"))}. It reads and writes {@link ByteBuf}s and
 * {@link FileRegion}s, honours {@code AUTO_READ}, {@code read()}, the {@link RecvByteBufAllocator} and the write
 * water marks, and supports half-closure ({@link #shutdownOutput()}, {@link #shutdownInput()},
 * {@code ALLOW_HALF_CLOSURE}) as Netty's socket channels do.
 *
 * <p>Writes copy straight into the transmit ring and never block the event loop: when the ring is full the rest
 * stays in the outbound buffer until the peer frees space and notifies. Closing delivers every byte whose write
 * succeeded (it is in the ring); writes still pending fail. If the peer process dies, the bytes it wrote before are
 * delivered, then {@code exceptionCaught} receives an {@link IdtsPeerGoneException} and the channel closes.
 */
public final class IdtsChannel extends AbstractChannel implements DuplexChannel {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(IdtsChannel.class);
    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);
    private static final String EXPECTED_TYPES = " (expected: " + StringUtil.simpleClassName(ByteBuf.class) + ", "
            + StringUtil.simpleClassName(FileRegion.class) + ')';
    /** Names the client end of connections whose channel was not bound to a name of its own. */
    private static final AtomicLong CLIENT_SEQUENCE = new AtomicLong();
    /** How soon a connect is retried when the server's backlog is full. */
    private static final long BACKLOG_RETRY_MILLIS = 1;

    private enum State { OPEN, CONNECTING, ACTIVE, CLOSED }

    private final IdtsChannelConfig config = new IdtsChannelConfig(this);
    private final RingByteChannel ringByteChannel = new RingByteChannel();
    private volatile State state;
    private volatile IdtsAddress localAddress;
    private volatile IdtsAddress remoteAddress;
    private volatile boolean inputShutdown;
    private volatile boolean outputShutdown;

    // Everything below is touched on the event loop only.
    private IdtsConnection connection;
    private RingReader reader;
    private RingWriter writer;
    private IoRegistration registration;
    private IoRegistration notificationWatch;
    private IoRegistration socketWatch;
    private HostConnector connector;
    private IdtsAddress requestedRemoteAddress;
    private ChannelPromise connectPromise;
    private Future<?> connectTimeoutFuture;
    private boolean readStarted;
    private boolean readPending;
    private boolean armedForData;
    private boolean waitingForSpace;
    private boolean inputShutdownReadCompleteFired;
    private boolean peerGone;

    /** A channel to be connected; {@code Bootstrap} makes it by reflection. */
    public IdtsChannel() {
        super(null);
        state = State.OPEN;
    }

    /** An accepted channel, active from the start. */
    IdtsChannel(IdtsServerChannel parent, IdtsConnection connection, IdtsAddress localAddress,
                IdtsAddress remoteAddress) throws IdtsProtocolException {
        super(parent);
        this.localAddress = localAddress;
        this.remoteAddress = remoteAddress;
        attach(connection);
        state = State.ACTIVE;
    }

    private void attach(IdtsConnection connection) throws IdtsProtocolException {
        int txRing = connection.isConnector() ? 0 : 1;
        RingWriter writer = new RingWriter(connection.region(), connection.layout(), txRing);
        RingReader reader = new RingReader(connection.region(), connection.layout(), 1 - txRing);
        if (!connection.isConnector()) {
            writer.setState(RegionLayout.STATE_OPEN);
        }
        this.connection = connection;
        this.writer = writer;
        this.reader = reader;
    }

    @Override
    public IdtsServerChannel parent() {
        return (IdtsServerChannel) super.parent();
    }

    @Override
    public IdtsChannelConfig config() {
        return config;
    }

    @Override
    public ChannelMetadata metadata() {
        return METADATA;
    }

    @Override
    public boolean isOpen() {
        return state != State.CLOSED;
    }

    @Override
    public boolean isActive() {
        return state == State.ACTIVE;
    }

    @Override
    public IdtsAddress localAddress() {
        return (IdtsAddress) super.localAddress();
    }

    @Override
    public IdtsAddress remoteAddress() {
        return (IdtsAddress) super.remoteAddress();
    }

    @Override
    protected SocketAddress localAddress0() {
        return localAddress;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return remoteAddress;
    }

    @Override
    protected AbstractUnsafe newUnsafe() {
        return new IdtsUnsafe();
    }

    @Override
    protected boolean isCompatible(EventLoop loop) {
        return loop instanceof IoEventLoop && ((IoEventLoop) loop).isCompatible(IdtsUnsafe.class);
    }

    @Override
    protected void doRegister(ChannelPromise promise) {
        ((IoEventLoop) eventLoop()).register((IdtsUnsafe) unsafe()).addListener(f -> {
            if (!f.isSuccess()) {
                promise.setFailure(f.cause());
                return;
            }
            registration = (IoRegistration) f.getNow();
            try {
                if (connection != null) {
                    watchConnection();
                }
                promise.setSuccess();
            } catch (Throwable t) {
                promise.setFailure(t);
            }
        });
    }

    @Override
    protected void doDeregister() {
        cancelWatches();
        IoRegistration registration = this.registration;
        if (registration != null) {
            this.registration = null;
            registration.cancel();
        }
    }

    private IdtsIoHandler ioHandler() {
        return registration.attachment();
    }

    /** Watches the peer's notifications and the socket whose hang-up tells that the peer is gone. */
    private void watchConnection() throws Exception {
        IdtsIoHandler handler = ioHandler();
        // Edge-triggered: every eventfd write is one event, and the counter need never be read back.
        notificationWatch = handler.watch(new FdWatch(connection.notificationFd(), ops -> onNotified()),
                EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLET));
        int livenessFd = connection.livenessFd();
        if (livenessFd >= 0 && socketWatch == null) {
            socketWatch = handler.watch(new FdWatch(livenessFd, ops -> onSocketReady()),
                    EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        }
    }

    private void cancelWatches() {
        if (notificationWatch != null) {
            notificationWatch.cancel();
            notificationWatch = null;
        }
        if (socketWatch != null) {
            socketWatch.cancel();
            socketWatch = null;
        }
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        this.localAddress = checkAddress(localAddress);
    }

    @Override
    protected void doDisconnect() throws Exception {
        doClose();
    }

    @Override
    protected void doClose() {
        State previous = state;
        state = State.CLOSED;
        if (previous == State.CLOSED) {
            return;
        }
        ChannelPromise promise = connectPromise;
        if (promise != null) {
            connectPromise = null;
            promise.tryFailure(new ClosedChannelException());
        }
        if (connectTimeoutFuture != null) {
            connectTimeoutFuture.cancel(false);
            connectTimeoutFuture = null;
        }
        IdtsConnection connection = this.connection;
        if (connection != null && !peerGone) {
            try {
                // Everything already in the ring stays readable by the peer after we unmap: like a socket's send
                // buffer after close(). CLOSED after the last byte tells it that nothing more will come.
                if (writer.setState(RegionLayout.STATE_CLOSED)) {
                    connection.notifyPeer();
                }
            } catch (Throwable t) {
                logger.debug("Could not tell the peer of {} that it closes", this, t);
            }
        }
        cancelWatches();
        if (connection != null) {
            this.connection = null;
            reader = null;
            writer = null;
            connection.close();
        }
        if (connector != null) {
            connector.close();
            connector = null;
        }
    }

    @Override
    protected void doBeginRead() {
        if (inputShutdown) {
            return;
        }
        readStarted = true;
        readPending = true;
        // Nothing to arm: the event loop polls the ring on its next turn.
    }

    private boolean isReadInterested() {
        return readStarted && !inputShutdown && (readPending || config.isAutoRead());
    }

    @Override
    protected Object filterOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf || msg instanceof FileRegion) {
            return msg;
        }
        throw new UnsupportedOperationException("unsupported message type: " + StringUtil.simpleClassName(msg)
                + EXPECTED_TYPES);
    }

    @Override
    protected void doWrite(ChannelOutboundBuffer in) throws Exception {
        if (reader.peerState() == RegionLayout.STATE_CLOSED) {
            throw new IOException("the peer of " + this + " closed the channel; nothing more can be written to it");
        }
        try {
            for (;;) {
                Object msg = in.current();
                if (msg == null) {
                    return;
                }
                if (msg instanceof ByteBuf) {
                    ByteBuf buf = (ByteBuf) msg;
                    int readable = buf.readableBytes();
                    if (readable == 0) {
                        in.remove();
                        continue;
                    }
                    int written = writer.write(buf, buf.readerIndex(), readable);
                    in.removeBytes(written);
                    if (written < readable && !awaitSpace()) {
                        return;
                    }
                } else {
                    FileRegion region = (FileRegion) msg;
                    if (region.transferred() >= region.count()) {
                        in.remove();
                        continue;
                    }
                    long written = region.transferTo(ringByteChannel, region.transferred());
                    if (written > 0) {
                        in.progress(written);
                    }
                    if (region.transferred() >= region.count()) {
                        in.remove();
                    } else if (written == 0 && !awaitSpace()) {
                        return;
                    }
                }
            }
        } finally {
            if (writer.publish()) {
                connection.notifyPeer();
            }
        }
    }

    /**
     * The ring is full: publishes what was written so the peer can drain it and asks to be notified when space is
     * free.
     *
     * @return {@code true} if space came free meanwhile and writing can go on
     */
    private boolean awaitSpace() throws IOException {
        if (writer.publish()) {
            connection.notifyPeer();
        }
        if (writer.prepareToWaitForSpace()) {
            return true;
        }
        waitingForSpace = true;
        return false;
    }

    @Override
    protected void doShutdownOutput() throws Exception {
        if (connection == null) {
            throw new ClosedChannelException();
        }
        outputShutdown = true;
        // setState publishes every byte written before it, then raises the state.
        if (writer.setState(RegionLayout.STATE_OUTPUT_SHUTDOWN)) {
            connection.notifyPeer();
        }
    }

    @Override
    public boolean isInputShutdown() {
        return inputShutdown || state == State.CLOSED;
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown || state == State.CLOSED;
    }

    @Override
    public boolean isShutdown() {
        return isInputShutdown() && isOutputShutdown();
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        EventLoop loop = eventLoop();
        if (loop.inEventLoop()) {
            ((AbstractUnsafe) unsafe()).shutdownOutput(promise);
        } else {
            loop.execute(() -> ((AbstractUnsafe) unsafe()).shutdownOutput(promise));
        }
        return promise;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        EventLoop loop = eventLoop();
        if (loop.inEventLoop()) {
            shutdownInput0(promise);
        } else {
            loop.execute(() -> shutdownInput0(promise));
        }
        return promise;
    }

    private void shutdownInput0(ChannelPromise promise) {
        if (!isOpen()) {
            promise.setFailure(new ClosedChannelException());
            return;
        }
        // From now on whatever the peer writes is discarded, so that it never waits for space that never comes.
        inputShutdown = true;
        promise.setSuccess();
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        ChannelFuture outputFuture = shutdownOutput();
        outputFuture.addListener(f -> shutdownInput().addListener(inputFuture -> {
            Throwable outputCause = f.cause();
            Throwable inputCause = inputFuture.cause();
            if (outputCause != null) {
                if (inputCause != null) {
                    outputCause.addSuppressed(inputCause);
                }
                promise.setFailure(outputCause);
            } else if (inputCause != null) {
                promise.setFailure(inputCause);
            } else {
                promise.setSuccess();
            }
        }));
        return promise;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event-loop side: polled by IdtsIoHandler, woken by the notification eventfd and the rendezvous socket.

    private int poll() {
        if (connection == null) {
            return 0;
        }
        try {
            if (armedForData) {
                armedForData = false;
                reader.clearWaitingForData();
            }
            int work = 0;
            if (waitingForSpace && (writer.writableBytes() > 0
                    || reader.peerState() == RegionLayout.STATE_CLOSED)) {
                waitingForSpace = false;
                writer.clearWaitingForSpace();
                work++;
                ((IdtsUnsafe) unsafe()).flushPending();
                if (connection == null) {
                    return work;
                }
            }
            if (inputShutdown) {
                work += discardInput();
            } else if (isReadInterested()) {
                if (reader.readableBytes() > 0 || reader.isEndOfStream()) {
                    readRing();
                    work++;
                }
            } else if (reader.readableBytes() == 0 && reader.isEndOfStream()) {
                // Nobody asked to read, but nothing is left to read either: the end of the stream is news, as a
                // socket's hang-up is for Netty's epoll channels. A state change always notifies, so it wakes us.
                inputEnded();
                work++;
            }
            return work;
        } catch (IdtsProtocolException e) {
            protocolViolation(e);
            return 1;
        } catch (IOException e) {
            pipeline().fireExceptionCaught(e);
            unsafe().close(unsafe().voidPromise());
            return 1;
        }
    }

    private boolean prepareToSleep() {
        // With input shut down the ring is still drained (discarded), so the peer's writes must still wake us.
        if (connection == null || armedForData || !(inputShutdown || isReadInterested())) {
            return false;
        }
        try {
            armedForData = true;
            if (reader.prepareToSleep()) {
                armedForData = false;
                return true;
            }
            return false;
        } catch (IdtsProtocolException e) {
            protocolViolation(e);
            return true;
        }
    }

    private void onNotified() {
        poll();
    }

    private void readRing() throws IOException {
        final ChannelPipeline pipeline = pipeline();
        final RecvByteBufAllocator.Handle allocHandle = unsafe().recvBufAllocHandle();
        allocHandle.reset(config);
        boolean endOfStream = false;
        ByteBuf buf = null;
        try {
            do {
                if (reader.readableBytes() == 0) {
                    endOfStream = reader.isEndOfStream();
                    break;
                }
                buf = allocHandle.allocate(config.getAllocator());
                allocHandle.attemptedBytesRead(buf.writableBytes());
                int read = reader.read(buf, buf.writableBytes());
                allocHandle.lastBytesRead(read);
                allocHandle.incMessagesRead(1);
                if (reader.release()) {
                    connection.notifyPeer();
                }
                readPending = false;
                pipeline.fireChannelRead(buf);
                buf = null;
                if (connection == null || inputShutdown) {
                    // A handler closed the channel or shut its input down while we were reading.
                    break;
                }
            } while (allocHandle.continueReading());
        } finally {
            if (buf != null) {
                buf.release();
            }
        }
        allocHandle.readComplete();
        pipeline.fireChannelReadComplete();
        if (endOfStream && connection != null) {
            inputEnded();
        }
    }

    /** The peer shut its output down or closed, and every byte it wrote was read. */
    private void inputEnded() {
        if (!inputShutdown) {
            if (!config.isAllowHalfClosure()) {
                unsafe().close(unsafe().voidPromise());
                return;
            }
            inputShutdown = true;
            pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        if (!inputShutdownReadCompleteFired) {
            inputShutdownReadCompleteFired = true;
            pipeline().fireUserEventTriggered(ChannelInputShutdownReadComplete.INSTANCE);
        }
    }

    private int discardInput() throws IdtsProtocolException, IOException {
        int readable = reader.readableBytes();
        if (readable == 0) {
            return 0;
        }
        reader.skip(readable);
        if (reader.release()) {
            connection.notifyPeer();
        }
        return 1;
    }

    private void protocolViolation(IdtsProtocolException e) {
        logger.warn("Closing {}: the peer broke the IDTS ring protocol: {}", this, e.getMessage());
        pipeline().fireExceptionCaught(e);
        unsafe().close(unsafe().voidPromise());
    }

    /** The rendezvous socket is readable: the handshake reply, or (afterwards) the peer's hang-up. */
    private void onSocketReady() {
        if (state == State.CONNECTING) {
            finishConnect();
            return;
        }
        if (connection == null) {
            return;
        }
        ReceivedMessage message;
        byte[] probe = new byte[1];
        try {
            message = UnixDomainSocket.receive(connection.livenessFd(), probe, 0, probe.length, 0);
        } catch (NativeIoException e) {
            peerHungUp();
            return;
        } catch (IOException e) {
            peerHungUp();
            return;
        }
        if (message.bytes() == 0) {
            peerHungUp();
        } else if (message.bytes() > 0) {
            protocolViolation(new IdtsProtocolException(
                    "the peer sent data on the rendezvous socket after the handshake"));
        }
    }

    /**
     * The peer's end of the rendezvous socket closed. If the peer closed the channel first, the ring says so and
     * the ordinary end-of-stream path handles it; otherwise its process died.
     */
    private void peerHungUp() {
        if (socketWatch != null) {
            socketWatch.cancel();
            socketWatch = null;
        }
        try {
            if (reader.peerState() == RegionLayout.STATE_CLOSED) {
                return;
            }
        } catch (IdtsProtocolException e) {
            protocolViolation(e);
            return;
        }
        peerGone = true;
        // Deliver what the peer wrote before it died, as a socket delivers its receive buffer before the reset.
        long deliveredBefore = reader.position();
        if (isReadInterested()) {
            readAllBeforeClose();
        }
        if (connection == null) {
            return;
        }
        IdtsPeerGoneException gone = new IdtsPeerGoneException("the peer of " + this + " is gone: its process "
                + "exited or was killed without closing the channel (" + (reader.position() - deliveredBefore)
                + " bytes it wrote before were delivered)");
        pipeline().fireExceptionCaught(gone);
        unsafe().close(unsafe().voidPromise());
    }

    private void readAllBeforeClose() {
        try {
            while (connection != null && !inputShutdown && reader.readableBytes() > 0) {
                readRing();
            }
        } catch (IOException e) {
            logger.debug("Could not drain the ring of {} after its peer died", this, e);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Connecting.

    private static IdtsAddress checkAddress(SocketAddress address) {
        if (!(address instanceof IdtsAddress)) {
            throw new IllegalArgumentException("IDTS channels take an IdtsAddress, not "
                    + (address == null ? "null" : address.getClass().getName() + " (" + address + ')'));
        }
        return (IdtsAddress) address;
    }

    private void startConnect() throws Exception {
        try {
            connector = HostConnector.start(requestedRemoteAddress, localAddress, config.getRingCapacity());
        } catch (HostConnector.BacklogFullException e) {
            // The server is flooded with connects; try again shortly, until the connect timeout fires.
            eventLoop().schedule(this::retryConnect, BACKLOG_RETRY_MILLIS, TimeUnit.MILLISECONDS);
            return;
        }
        socketWatch = ioHandler().watch(new FdWatch(connector.socketFd(), ops -> onSocketReady()),
                EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
    }

    private void retryConnect() {
        if (state != State.CONNECTING || connectPromise == null) {
            return;
        }
        try {
            startConnect();
        } catch (Throwable t) {
            failConnect(t);
        }
    }

    private void finishConnect() {
        ChannelPromise promise = connectPromise;
        if (promise == null) {
            return;
        }
        HostConnection established;
        try {
            established = connector.finish();
            if (established == null) {
                return;
            }
            connector = null;
            attach(established);
        } catch (Throwable t) {
            failConnect(t);
            return;
        }
        // The socket watch stays: from now on it reports the peer's death.
        try {
            notificationWatch = ioHandler().watch(new FdWatch(established.notificationFd(), ops -> onNotified()),
                    EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLET));
        } catch (Throwable t) {
            failConnect(t);
            return;
        }
        remoteAddress = requestedRemoteAddress;
        state = State.ACTIVE;
        connectPromise = null;
        if (connectTimeoutFuture != null) {
            connectTimeoutFuture.cancel(false);
            connectTimeoutFuture = null;
        }
        boolean promiseSet = promise.trySuccess();
        pipeline().fireChannelActive();
        if (!promiseSet) {
            // The user cancelled the connect meanwhile.
            unsafe().close(unsafe().voidPromise());
        }
    }

    private void failConnect(Throwable cause) {
        ChannelPromise promise = connectPromise;
        connectPromise = null;
        if (promise != null) {
            promise.tryFailure(cause);
        }
        unsafe().close(unsafe().voidPromise());
    }

    private final class IdtsUnsafe extends AbstractUnsafe implements IdtsIoHandle {

        @Override
        public void connect(SocketAddress remote, SocketAddress local, ChannelPromise promise) {
            // The promise stays cancellable while the handshake runs, as for Netty's socket channels.
            if (promise.isDone() || !ensureOpen(promise)) {
                return;
            }
            try {
                if (connectPromise != null) {
                    throw new ConnectionPendingException();
                }
                if (state == State.ACTIVE) {
                    throw new AlreadyConnectedException();
                }
                IdtsAddress remoteAddress = checkAddress(remote);
                if (local != null) {
                    doBind(local);
                }
                if (localAddress == null) {
                    localAddress = remoteAddress.sibling(
                            "client-" + LinuxHost.pid() + '-' + CLIENT_SEQUENCE.incrementAndGet());
                }
                requestedRemoteAddress = remoteAddress;
                connectPromise = promise;
                state = State.CONNECTING;
                promise.addListener(f -> {
                    if (f.isCancelled() && connectPromise == promise) {
                        connectPromise = null;
                        close(voidPromise());
                    }
                });
                int timeoutMillis = config.getConnectTimeoutMillis();
                if (timeoutMillis > 0) {
                    connectTimeoutFuture = eventLoop().schedule(() -> {
                        if (connectPromise == promise && !promise.isDone()) {
                            failConnect(new ConnectTimeoutException("connection timed out after " + timeoutMillis
                                    + " ms: " + remoteAddress));
                        }
                    }, timeoutMillis, TimeUnit.MILLISECONDS);
                }
                startConnect();
            } catch (Throwable t) {
                if (connectPromise == promise) {
                    failConnect(t);
                } else {
                    promise.tryFailure(t);
                    closeIfClosed();
                }
            }
        }

        void flushPending() {
            flush0();
        }

        @Override
        public int poll() {
            return IdtsChannel.this.poll();
        }

        @Override
        public boolean prepareToSleep() {
            return IdtsChannel.this.prepareToSleep();
        }

        @Override
        public long spinTimeNanos() {
            return state == State.ACTIVE ? config.getSpinTimeNanos() : 0;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent ioEvent) {
            // IdtsIoHandler polls; it never dispatches events to its handles.
        }

        @Override
        public void close() {
            close(voidPromise());
        }
    }

    /** Lets a {@link FileRegion} transfer itself into the transmit ring. */
    private final class RingByteChannel implements WritableByteChannel {
        @Override
        public int write(ByteBuffer src) throws IOException {
            int length = src.remaining();
            if (length == 0) {
                return 0;
            }
            int written = writer.write(Unpooled.wrappedBuffer(src), 0, length);
            src.position(src.position() + written);
            return written;
        }

        @Override
        public boolean isOpen() {
            return connection != null;
        }

        @Override
        public void close() {
            // The ring belongs to the channel.
        }
    }
}
