package io.idts.channel;

import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.backend.IdtsConnection;
import io.idts.channel.ring.RegionLayout;
import io.idts.channel.ring.RingReader;
import io.idts.channel.ring.RingWriter;
import io.idts.channel.ring.SliceViews;

import io.idts.linux.LinuxHost;
import io.netty.buffer.ByteBuf;
import io.netty.channel.AbstractChannel;
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
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.StringUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.AlreadyConnectedException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ConnectionPendingException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The machinery of {@link IdtsChannel}, as Netty's {@code AbstractEpollStreamChannel} is its epoll channel's: the
 * channel's state and rings, registration, writes into the transmit ring, closing, and the unsafe, which is both the
 * handle {@link IdtsIoHandler} polls and the sink of the connection's events. The inbound path, from a notification
 * (or a turn of the loop) to {@code fireChannelRead}, reads top to bottom in the unsafe's {@code poll()} and
 * {@code readRing()}; so do connect completion and the flush that waits for space. {@link IdtsChannel} adds the
 * public API: its configuration, addresses, half-closure, transmit claims and counters.
 */
abstract class AbstractIdtsChannel extends AbstractChannel implements DuplexChannel {

    /** Named after the public class: users set the level of {@code io.idts.channel.IdtsChannel}. */
    private static final InternalLogger logger = InternalLoggerFactory.getInstance(IdtsChannel.class);

    private static final String EXPECTED_TYPES = " (expected: " + StringUtil.simpleClassName(ByteBuf.class) + ", "
            + StringUtil.simpleClassName(FileRegion.class) + ')';

    /** Names the client end of connections whose channel was not bound to a name of its own. */
    private static final AtomicLong CLIENT_SEQUENCE = new AtomicLong();
    /** How soon a connect is retried when the server's backlog is full. */
    private static final long BACKLOG_RETRY_MILLIS = 1;
    /** The longest an IDTS attempt may take before a channel with a TCP address falls back to TCP. */
    private static final int IDTS_ATTEMPT_MAX_MILLIS = 5000;
    /**
     * The most bytes one flush copies into the transmit ring before it publishes them (or eight slices, an eighth of
     * the ring, if that is less). A flush after a wait for space copies the whole outbound buffer (up to the high
     * water mark, 512 KiB by default) in one pass; published only at its end, the reader ran dry and went to sleep
     * meanwhile, and the two sides took turns instead of overlapping (docs/benchmarks.md, session 7).
     */
    private static final int MAX_UNPUBLISHED_BYTES = 64 * 1024;

    enum State { OPEN, CONNECTING, ACTIVE, CLOSED }

    private final FileRegionTransfer fileRegions = new FileRegionTransfer();
    private final OutboundCopy outboundCopy = new OutboundCopy();
    final TransmitClaims claims = new TransmitClaims(this::claimEnded);
    /** A flush found a transmit claim open and left its writes for when the claim ends. Any thread. */
    private volatile boolean flushWaitsForClaim;
    volatile State state;
    volatile IdtsAddress localAddress;
    volatile IdtsAddress remoteAddress;
    volatile boolean inputShutdown;
    volatile boolean outputShutdown;

    // Everything below is touched on the event loop only.
    IdtsConnection connection;
    RingReader reader;
    RingWriter writer;
    /** The reader of the connection, kept after close: the pinning counters read it from any thread. */
    volatile RingReader pinCounters;
    private IoRegistration registration;
    private boolean watching;
    private IdtsBackend.PendingConnect connector;
    private IdtsAddress requestedRemoteAddress;
    private ChannelPromise connectPromise;
    private Future<?> connectTimeoutFuture;
    /** Ends the IDTS attempt of a connect that can fall back to TCP. */
    private Future<?> idtsAttemptTimeoutFuture;
    /** When the connect times out, in System.nanoTime(); meaningless without a connect timeout. */
    private long connectDeadlineNanos;
    /** The TCP route, once the connect fell back to it; {@code null} on the IDTS route. Set on the loop only. */
    volatile TcpRoute tcp;
    /** Why the IDTS attempt failed, once the connect fell back to TCP. */
    private Throwable idtsFailure;
    volatile IdtsRoute route;
    private boolean readStarted;
    private boolean readPending;
    /** In {@link IdtsUnsafe#readRing()}: views released meanwhile give their slices back at its end. */
    private boolean readingRing;
    private boolean armedForData;
    boolean waitingForSpace;
    /**
     * A flush made its {@code WRITE_SPIN_COUNT} passes with bytes left: it goes on at the loop's next poll of this
     * channel, with its reads, as an epoll channel's goes on at its next {@code EPOLLOUT}.
     */
    private boolean flushYielded;
    private boolean inputShutdownReadCompleteFired;
    private boolean peerGone;
    /** The first protocol violation found; reported once, then the channel closes. */
    private IdtsProtocolException violation;
    /** Zero-copy read bookkeeping, made at the first view; {@code null} while every read copied. */
    private SliceViews views;

    // Counters: written on the event loop only, readable anywhere (they may lag a little there).
    long zeroCopyReadBytes;
    long copiedReadBytes;
    long holdLimitCopies;

    AbstractIdtsChannel(IdtsServerChannel parent) {
        super(parent);
    }

    @Override
    public abstract IdtsChannelConfig config();

    void attach(IdtsConnection connection, IdtsAddress remote) throws IdtsProtocolException {
        boolean connector = connection.isConnector();
        RingWriter writer = new RingWriter(connection.region(), connection.layout(),
                RegionLayout.transmitRing(connector));
        RingReader reader = new RingReader(connection.region(), connection.layout(),
                RegionLayout.receiveRing(connector));
        if (!connection.isConnector()) {
            writer.setState(RegionLayout.STATE_OPEN);
        }
        config().applyBackendDefaults(remote);
        this.connection = connection;
        claims.attach(connection.regionLifetime());
        fileRegions.attach(writer);
        this.writer = writer;
        this.reader = reader;
        this.pinCounters = reader;
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

    /** Has the connection report the peer's notifications and death to this channel. */
    private void watchConnection() throws Exception {
        // Set first: a watch that fails half way, or reports the peer gone at once, is undone by cancelWatches().
        watching = true;
        connection.watch(ioHandler(), (IdtsUnsafe) unsafe());
    }

    private void cancelWatches() {
        if (watching) {
            watching = false;
            connection.unwatch();
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
        cancelIdtsAttemptTimeout();
        if (tcp != null) {
            tcp.close();
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
        if (views != null) {
            // Views still held only free themselves from now on; the last one unmaps the region.
            views.close();
        }
        if (connection != null) {
            this.connection = null;
            reader = null;
            writer = null;
            fileRegions.attach(null);
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
        if (tcp != null) {
            tcp.read();
            return;
        }
        readStarted = true;
        readPending = true;
        // Nothing to arm: the event loop polls the ring on its next turn.
    }

    private boolean isReadInterested() {
        return readStarted && !inputShutdown && (readPending || config().isAutoRead());
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
        if (tcp != null) {
            tcp.write(in);
            return;
        }
        try {
            writeOutbound(in);
        } catch (IdtsProtocolException e) {
            // Found while writing, possibly in the publication after the write promises completed. Report it and fail
            // what is still pending with it here; Netty then closes the channel (it does not report write errors).
            reportViolation(e);
            throw e;
        }
    }

    /**
     * Logs the first violation at warning level, fails every write still pending with it (flushed or not: none of it
     * can reach the peer any more) and fires it through the pipeline. A violation found again later (the ring classes
     * throw the first one again on every use) is not reported twice.
     */
    private void reportViolation(IdtsProtocolException e) {
        if (violation != null) {
            return;
        }
        violation = e;
        logger.warn("Closing {}: the peer broke the IDTS ring protocol: {}", this, e.getMessage());
        ChannelOutboundBuffer out = unsafe().outboundBuffer();
        if (out != null) {
            // Writes that listeners of the failed promises make meanwhile are failed by the close that follows.
            out.addFlush();
            while (out.remove(e)) {
                continue;
            }
        }
        pipeline().fireExceptionCaught(e);
    }

    private void writeOutbound(ChannelOutboundBuffer in) throws Exception {
        if (reader.peerState() == RegionLayout.STATE_CLOSED) {
            throw new IOException("the peer of " + this + " closed the channel; nothing more can be written to it");
        }
        if (claims.isOpen()) {
            // The claim's bytes come first, at the ring's write index: nothing may be written there before they are
            // committed (or the claim given up). The writes wait; the claim's end flushes them. The flag is set
            // before the claim is looked at again: a claim released on another thread meanwhile either sees the
            // flag or is seen ended here (both volatile).
            flushWaitsForClaim = true;
            if (claims.isOpen()) {
                return;
            }
            flushWaitsForClaim = false;
        }
        int spinsLeft = config().getWriteSpinCount();
        try {
            for (;;) {
                Object msg = in.current();
                if (msg == null) {
                    return;
                }
                if (spinsLeft == 0) {
                    // As in Netty's socket channels, a flush makes at most WRITE_SPIN_COUNT passes. Without the
                    // bound, a handler that writes again as its buffers are removed (channelWritabilityChanged, a
                    // promise's listener), into a ring its peer drains as fast, keeps one flush going for ever, and
                    // the loop never reads. The rest goes on at the next poll, not in a task: the loop runs the tasks
                    // queued while it runs tasks in the same turn, for up to a second, so a flush that queued itself
                    // again would still keep the loop from reading.
                    flushYielded = true;
                    return;
                }
                spinsLeft--;
                if (msg instanceof ByteBuf) {
                    // Every flushed buffer that fits is copied before any is removed, as a gathering write would:
                    // removing one completes its promise with an atomic update, which waits until the stores of the
                    // copy before it have reached the ring, so a remove per copy would serialise the copies.
                    outboundCopy.written = 0;
                    outboundCopy.ringFull = false;
                    in.forEachFlushedMessage(outboundCopy);
                    in.removeBytes(outboundCopy.written);
                    if (outboundCopy.ringFull && !awaitSpace()) {
                        return;
                    }
                } else {
                    FileRegion region = (FileRegion) msg;
                    if (region.transferred() >= region.count()) {
                        in.remove();
                        continue;
                    }
                    long written = fileRegions.transfer(region);
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
            publishWritten();
        }
    }

    /**
     * Publishes what was written since the last publication, and notifies the peer if it waits for data (the write
     * side's twin of the reads' {@code publishConsumed}).
     */
    final void publishWritten() throws IOException {
        if (writer.publish()) {
            connection.notifyPeer();
        }
        reader.awaitReply();
    }

    /**
     * Copies the flushed {@code ByteBuf}s into the transmit ring, in order, until the ring is full or a message that is
     * not a {@code ByteBuf} comes; moves no index (the caller removes {@link #written} bytes afterwards).
     */
    private final class OutboundCopy implements ChannelOutboundBuffer.MessageProcessor {
        long written;
        boolean ringFull;

        @Override
        public boolean processMessage(Object msg) throws IOException {
            if (!(msg instanceof ByteBuf)) {
                return false;
            }
            ByteBuf buf = (ByteBuf) msg;
            int readable = buf.readableBytes();
            int copied = writer.write(buf, buf.readerIndex(), readable);
            written += copied;
            if (writer.unpublishedBytes() >= Math.min(MAX_UNPUBLISHED_BYTES, writer.sliceSize() << 3)) {
                publishWritten();
            }
            if (copied < readable) {
                ringFull = true;
                return false;
            }
            return true;
        }
    }

    /**
     * The ring is full: publishes what was written so the peer can drain it, and waits for space. The wake-me flag
     * is not set here but in {@link IdtsUnsafe#prepareToSleep()}, when the loop is about to block: while the loop
     * keeps turning (busy with other channels, or spinning) it sees the space the peer frees by itself, and a flag set
     * on every full ring would make the peer notify, a system call, on every release. How many times one flush may
     * go on as the peer frees space is bounded by the flush ({@code WRITE_SPIN_COUNT} passes), not here.
     *
     * @return {@code true} if space came free meanwhile and writing can go on
     */
    private boolean awaitSpace() throws IOException {
        publishWritten();
        if (writer.writableBytes() > 0) {
            return true;
        }
        waitingForSpace = true;
        return false;
    }

    @Override
    protected void doShutdownOutput() throws Exception {
        if (tcp != null) {
            outputShutdown = true;
            tcp.shutdownOutput();
            return;
        }
        if (connection == null) {
            throw new ClosedChannelException();
        }
        outputShutdown = true;
        // setState publishes every byte written before it, then raises the state.
        if (writer.setState(RegionLayout.STATE_OUTPUT_SHUTDOWN)) {
            connection.notifyPeer();
        }
    }

    void shutdownInput0(ChannelPromise promise) {
        if (!isOpen()) {
            promise.setFailure(new ClosedChannelException());
            return;
        }
        // From now on whatever the peer writes is discarded, so that it never waits for space that never comes.
        inputShutdown = true;
        if (tcp != null) {
            tcp.shutdownInput();
        }
        promise.setSuccess();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event-loop side: polled by IdtsIoHandler, woken by the notification socket and the rendezvous socket.

    /**
     * The slices of the receive ring views may pin at once: {@link IdtsChannelOption#ZERO_COPY_HOLD_PERCENT} of them,
     * but always two fewer than all, so that the peer has a slice to write into and one on its way back.
     */
    int maxPinnedSlices() {
        int slices = RegionLayout.SLICES_PER_RING;
        return Math.min(slices * config().getZeroCopyHoldPercent() / 100, slices - 2);
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

    private void cancelIdtsAttemptTimeout() {
        if (idtsAttemptTimeoutFuture != null) {
            idtsAttemptTimeoutFuture.cancel(false);
            idtsAttemptTimeoutFuture = null;
        }
    }

    /** The TCP route's channel connected. */
    void tcpConnected() {
        ((IdtsUnsafe) unsafe()).tcpConnected();
    }

    /** The TCP route's channel could not connect either. */
    void tcpConnectFailed(Throwable cause) {
        ((IdtsUnsafe) unsafe()).tcpConnectFailed(cause);
    }

    /** The TCP route's peer shut its output down or closed. */
    void tcpInputEnded() {
        if (isOpen()) {
            ((IdtsUnsafe) unsafe()).inputEnded();
        }
    }

    /** The TCP route's channel reads on its own exactly when this one does. Any thread. */
    void autoReadChanged(boolean autoRead) {
        TcpRoute tcp = this.tcp;
        if (tcp != null) {
            tcp.setAutoRead(autoRead);
        }
    }

    /** Any thread: the open transmit claim ended; a flush that waited for it goes on, on the loop. */
    private void claimEnded() {
        if (flushWaitsForClaim) {
            flushWaitsForClaim = false;
            try {
                eventLoop().execute(((IdtsUnsafe) unsafe()).flushTask);
            } catch (RejectedExecutionException e) {
                // The loop is shutting down, and with it the channel: its writes fail with it.
            }
        }
    }

    /** The TCP route's channel can take writes again. */
    void tcpWritable() {
        ((IdtsUnsafe) unsafe()).flushTask.run();
    }

    /** The TCP route's channel closed: so does this one. */
    void tcpClosed() {
        if (isOpen()) {
            unsafe().close(unsafe().voidPromise());
        }
    }

    /**
     * The channel's unsafe, and the handle that {@link IdtsIoHandler} polls: the inbound path from a notification
     * (or a turn of the loop) to {@code fireChannelRead}, the flush of writes that waited for space, and the connect.
     */
    final class IdtsUnsafe extends AbstractUnsafe implements IdtsIoHandle, IdtsConnection.Events {

        /** A flush that waited for a claim's end, or for the TCP route's writability, goes on here. */
        private final Runnable flushTask = this::flush0;
        /** After views were released on the loop, or on another thread and handed back. */
        private final Runnable viewsReleased = this::viewsReleased;

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
                requestedRemoteAddress = remoteAddress;
                connectPromise = promise;
                state = State.CONNECTING;
                idtsFailure = null;
                promise.addListener(f -> {
                    if (f.isCancelled() && connectPromise == promise) {
                        connectPromise = null;
                        close(voidPromise());
                    }
                });
                int timeoutMillis = config().getConnectTimeoutMillis();
                if (timeoutMillis > 0) {
                    connectDeadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
                    connectTimeoutFuture = eventLoop().schedule(() -> {
                        if (connectPromise == promise && !promise.isDone()) {
                            abandonConnect(new ConnectTimeoutException("connection timed out after " + timeoutMillis
                                    + " ms: " + remoteAddress + (idtsFailure == null ? ""
                                    : " (IDTS failed: " + idtsFailure.getMessage() + "; then no TCP connection to "
                                    + remoteAddress.tcpAddress() + " in the time left)")));
                        }
                    }, timeoutMillis, TimeUnit.MILLISECONDS);
                }
                if (remoteAddress.tcpAddress() != null) {
                    limitIdtsAttempt(promise, timeoutMillis);
                }
                if (localAddress == null) {
                    // After the connect is under way: a backend that cannot run here fails it as any failure of the
                    // IDTS attempt does, and an address with a TCP address falls back.
                    localAddress = remoteAddress.backend().clientAddress(remoteAddress.withoutTcp(),
                            "client-" + LinuxHost.pid() + '-' + CLIENT_SEQUENCE.incrementAndGet());
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

        @Override
        public long spinTimeNanos() {
            // A channel on the TCP route has no ring to spin on.
            return state == State.ACTIVE && connection != null ? config().getSpinTimeNanos() : 0;
        }

        @Override
        public void notified() {
            ioHandler().peerNotified();
            poll();
        }

        @Override
        public int poll() {
            if (connection == null) {
                return 0;
            }
            try {
                if (armedForData && (reader.readableBytes() > 0
                        || reader.peerState() >= RegionLayout.STATE_OUTPUT_SHUTDOWN)) {
                    // Bytes came: this loop polls the ring on every turn from now on, so the peer need not notify.
                    // While nothing comes the flag stays set (it was fenced and the ring checked after it when it was
                    // set): a loop that polls a thousand quiet channels writes none of their rings and fences none of
                    // them when it blocks again.
                    armedForData = false;
                    reader.clearWaitingForData();
                }
                int work = 0;
                boolean flush = flushYielded;
                if (waitingForSpace && (writer.writableBytes() > 0
                        || reader.peerState() == RegionLayout.STATE_CLOSED)) {
                    waitingForSpace = false;
                    writer.clearWaitingForSpace();
                    flush = true;
                }
                if (flush) {
                    flushYielded = false;
                    work++;
                    flush0();
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
                if (connection != null && reader.hasUnreleased()) {
                    // Looking for data can finish a slice with no byte left in it (an empty END_OF_SLICE descriptor):
                    // give it back now, or a writer waiting for it would wait for a notification that never comes.
                    publishConsumed();
                    work++;
                }
                return work;
            } catch (IdtsProtocolException e) {
                protocolViolation(e);
                return 1;
            } catch (IOException e) {
                pipeline().fireExceptionCaught(e);
                close(voidPromise());
                return 1;
            }
        }

        @Override
        public boolean prepareToSleep() {
            if (connection == null) {
                return false;
            }
            boolean ready = flushYielded;
            if (waitingForSpace) {
                try {
                    // Sets WAITING_FOR_SPACE and re-checks; on a free ring it clears the flag again: go on writing.
                    ready = writer.prepareToWaitForSpace();
                } catch (IdtsProtocolException e) {
                    protocolViolation(e);
                    return true;
                }
            }
            return prepareToSleepForData() || ready;
        }

        private boolean prepareToSleepForData() {
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

        /**
         * The one place reads take bytes out of the ring: as views (zero-copy reads on, and the views held
         * within the hold limit) or as copies into the channel's allocator. The producer position is read once and
         * validated by {@link RingReader#readableBytes()} before any view or copy is made.
         */
        private void readRing() throws IOException {
            final ChannelPipeline pipeline = pipeline();
            final RecvByteBufAllocator.Handle allocHandle = recvBufAllocHandle();
            final IdtsChannelConfig config = config();
            allocHandle.reset(config);
            final boolean zeroCopy = config().isZeroCopyReads();
            final int maxPinnedSlices = maxPinnedSlices();
            if (zeroCopy && views == null) {
                views = new SliceViews(reader, connection.regionLifetime(), eventLoop(), viewsReleased);
            }
            boolean endOfStream = false;
            ByteBuf buf = null;
            readingRing = true;
            try {
                do {
                    int readable = reader.readableBytes();
                    if (readable == 0) {
                        endOfStream = reader.isEndOfStream();
                        break;
                    }
                    if (zeroCopy && views.canView(maxPinnedSlices)) {
                        // As large as the RecvByteBufAllocator would have made the buffer (it still sizes each
                        // read), and within one slice: readable is what the slice being read offers.
                        int guess = allocHandle.guess();
                        int length = Math.min(readable, guess > 0 ? guess : readable);
                        buf = views.take(length, config().getAllocator());
                        allocHandle.attemptedBytesRead(guess);
                        allocHandle.lastBytesRead(length);
                        zeroCopyReadBytes += length;
                    } else {
                        if (zeroCopy) {
                            holdLimitCopies++;
                        }
                        buf = allocHandle.allocate(config().getAllocator());
                        allocHandle.attemptedBytesRead(buf.writableBytes());
                        int read = reader.read(buf, buf.writableBytes());
                        allocHandle.lastBytesRead(read);
                        copiedReadBytes += read;
                        publishConsumed();
                    }
                    allocHandle.incMessagesRead(1);
                    readPending = false;
                    ByteBuf msg = buf;
                    buf = null;
                    pipeline.fireChannelRead(msg);
                    if (connection == null || inputShutdown) {
                        // A handler closed the channel or shut its input down while we were reading.
                        break;
                    }
                } while (allocHandle.continueReading());
            } finally {
                readingRing = false;
                if (buf != null) {
                    buf.release();
                }
            }
            if (connection != null) {
                // Descriptors read and slices finished with (by copies, or views already released) go back now.
                publishConsumed();
            }
            allocHandle.readComplete();
            pipeline.fireChannelReadComplete();
            if (endOfStream && connection != null) {
                inputEnded();
            }
        }

        /**
         * Gives the peer back the descriptors read and the slices nothing uses any more (no view holds them and every
         * byte of them was read). Notifies the peer if it waits for space.
         */
        private void publishConsumed() throws IOException {
            if (reader.release()) {
                connection.notifyPeer();
            }
        }

        /** On the event loop, after views were released (on it, or on another thread and handed back). */
        private void viewsReleased() {
            // Within the read loop the slices go back together at its end: one notification for a waiting writer
            // instead of one per view a handler releases as it goes.
            if (connection == null || reader == null || readingRing) {
                return;
            }
            try {
                publishConsumed();
            } catch (IdtsProtocolException e) {
                // We are inside some handler's release(): close on the next turn rather than under its feet.
                eventLoop().execute(() -> protocolViolation(e));
            } catch (Throwable t) {
                eventLoop().execute(() -> {
                    pipeline().fireExceptionCaught(t);
                    close(voidPromise());
                });
            }
        }

        /** The peer shut its output down or closed, and every byte it wrote was read. */
        void inputEnded() {
            if (!inputShutdown) {
                if (!config().isAllowHalfClosure()) {
                    close(voidPromise());
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
            publishConsumed();
            return 1;
        }

        /**
         * A protocol violation found outside {@link AbstractIdtsChannel#doWrite}: reported (once) and the channel
         * closed.
         */
        @Override
        public void protocolViolation(IdtsProtocolException e) {
            reportViolation(e);
            close(voidPromise());
        }

        /**
         * The backend says the peer is gone. If the peer closed the channel first, the ring says so and the ordinary
         * end-of-stream path handles it; otherwise its process (or domain) died.
         */
        @Override
        public void peerGone() {
            if (connection == null) {
                return;
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
                    + (remoteAddress.isXen() ? "or domain " : "")
                    + "exited or was killed without closing the channel (" + (reader.position() - deliveredBefore)
                    + " bytes it wrote before were delivered)");
            pipeline().fireExceptionCaught(gone);
            close(voidPromise());
        }

        private void readAllBeforeClose() {
            try {
                while (connection != null && !inputShutdown && reader.readableBytes() > 0) {
                    readRing();
                }
            } catch (IdtsProtocolException e) {
                // The peer broke the protocol before it died: that is what the pipeline hears of, not its death.
                protocolViolation(e);
            } catch (IOException e) {
                logger.debug("Could not drain the ring of {} after its peer died", this, e);
            }
        }

        private void startConnect() throws Exception {
            IdtsAddress remote = requestedRemoteAddress.withoutTcp();
            try {
                connector = remote.backend().connect(remote, localAddress, config().ringCapacityFor(remote,
                        ioHandler().channels()), ioHandler(), this::finishConnect);
            } catch (IdtsBackend.BacklogFullException e) {
                // The server is flooded with connects; try again shortly, until the connect timeout fires.
                eventLoop().schedule(this::retryConnect, BACKLOG_RETRY_MILLIS, TimeUnit.MILLISECONDS);
            }
        }

        private void retryConnect() {
            if (state != State.CONNECTING || connectPromise == null || idtsFailure != null) {
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
            if (promise == null || state != State.CONNECTING || connector == null) {
                return;
            }
            IdtsConnection established;
            try {
                established = connector.finish();
                if (established == null) {
                    return;
                }
                connector = null;
                try {
                    attach(established, requestedRemoteAddress);
                } catch (Throwable t) {
                    established.close();
                    throw t;
                }
            } catch (Throwable t) {
                failConnect(t);
                return;
            }
            try {
                watchConnection();
            } catch (Throwable t) {
                // The connection is this channel's now: no falling back with it half set up.
                abandonConnect(t);
                return;
            }
            if (state != State.CONNECTING) {
                // The backend found the peer gone already, and the channel closed.
                return;
            }
            connected(IdtsRoute.IDTS, promise);
        }

        private void connected(IdtsRoute route, ChannelPromise promise) {
            remoteAddress = requestedRemoteAddress;
            AbstractIdtsChannel.this.route = route;
            state = State.ACTIVE;
            connectPromise = null;
            if (connectTimeoutFuture != null) {
                connectTimeoutFuture.cancel(false);
                connectTimeoutFuture = null;
            }
            cancelIdtsAttemptTimeout();
            if (logger.isDebugEnabled()) {
                if (route == IdtsRoute.TCP) {
                    logger.debug("{} connected to {} through TCP, {} to {} (IDTS: {})", AbstractIdtsChannel.this,
                            requestedRemoteAddress, tcp.localAddress(), tcp.remoteAddress(), idtsFailure.getMessage());
                } else {
                    logger.debug("{} connected to {} through IDTS", AbstractIdtsChannel.this, requestedRemoteAddress);
                }
            }
            boolean promiseSet = promise.trySuccess();
            pipeline().fireChannelActive();
            if (!promiseSet) {
                // The user cancelled the connect meanwhile.
                close(voidPromise());
            }
        }

        /** Fails the IDTS attempt: falls back to TCP if the address has a TCP address and no fallback happened yet. */
        private void failConnect(Throwable cause) {
            if (connectPromise != null && state == State.CONNECTING && idtsFailure == null
                    && requestedRemoteAddress.tcpAddress() != null) {
                fallBack(cause);
                return;
            }
            abandonConnect(cause);
        }

        /** Gives the IDTS attempt of a connect with a TCP address at most half the connect timeout. */
        private void limitIdtsAttempt(ChannelPromise promise, int timeoutMillis) {
            long limitMillis = timeoutMillis > 0 ? Math.min(timeoutMillis / 2, IDTS_ATTEMPT_MAX_MILLIS)
                    : IDTS_ATTEMPT_MAX_MILLIS;
            IdtsAddress remote = requestedRemoteAddress.withoutTcp();
            idtsAttemptTimeoutFuture = eventLoop().schedule(() -> {
                idtsAttemptTimeoutFuture = null;
                if (connectPromise == promise && idtsFailure == null) {
                    failConnect(new ConnectTimeoutException("no IDTS handshake with " + remote + " within "
                            + limitMillis + " ms"));
                }
            }, limitMillis, TimeUnit.MILLISECONDS);
        }

        /** IDTS could not reach the service: connects over TCP instead, within what is left of the connect timeout. */
        private void fallBack(Throwable cause) {
            idtsFailure = cause;
            cancelIdtsAttemptTimeout();
            if (connector != null) {
                connector.close();
                connector = null;
            }
            // No ring to poll from now on: out of the handles IdtsIoHandler polls on every turn, so that a thousand
            // TCP routes cost the loop nothing. The channel stays registered with Netty; its TCP channel is watched
            // by the loop's epoll half, and closes it if the loop shuts down.
            registration.cancel();
            InetSocketAddress tcpAddress = requestedRemoteAddress.tcpAddress();
            int timeoutMillis = 0;
            if (config().getConnectTimeoutMillis() > 0) {
                // At least a millisecond: 0 would mean no timeout at all to the TCP channel.
                timeoutMillis = (int) Math.max(1,
                        TimeUnit.NANOSECONDS.toMillis(connectDeadlineNanos - System.nanoTime()));
            }
            logger.debug("{}: IDTS cannot reach {} ({}); connecting over TCP to {}", AbstractIdtsChannel.this,
                    requestedRemoteAddress.withoutTcp(), cause.getMessage(), tcpAddress);
            try {
                tcp = TcpRoute.connect(AbstractIdtsChannel.this, tcpAddress, timeoutMillis);
                tcp.reportConnect();
            } catch (Throwable t) {
                tcpConnectFailed(t);
            }
        }

        void tcpConnected() {
            ChannelPromise promise = connectPromise;
            if (promise == null || state != State.CONNECTING) {
                // Closed or cancelled meanwhile; doClose() closed the TCP channel.
                return;
            }
            connected(IdtsRoute.TCP, promise);
        }

        /** The TCP route failed too: the connect fails, naming both causes. */
        void tcpConnectFailed(Throwable cause) {
            if (connectPromise == null || state != State.CONNECTING) {
                return;
            }
            ConnectException failed = new ConnectException("cannot connect to " + requestedRemoteAddress
                    + " by either route: IDTS to " + requestedRemoteAddress.withoutTcp() + " failed ("
                    + idtsFailure.getMessage() + "), then TCP to " + requestedRemoteAddress.tcpAddress()
                    + " failed (" + cause.getMessage() + ')');
            failed.initCause(cause);
            failed.addSuppressed(idtsFailure);
            abandonConnect(failed);
        }

        private void abandonConnect(Throwable cause) {
            ChannelPromise promise = connectPromise;
            connectPromise = null;
            if (promise != null) {
                promise.tryFailure(cause);
            }
            close(voidPromise());
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
}
