package io.idts.channel;

import io.idts.channel.backend.IdtsConnection;
import io.idts.channel.ring.RegionLayout;
import io.idts.channel.ring.RingReader;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelMetadata;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.FileRegion;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.internal.ObjectUtil;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;

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
 *
 * <p>Connected to an address {@link IdtsAddress#withTcp with a TCP address}, the channel chooses its route per
 * connection: IDTS when the service answers on this machine, otherwise TCP, through a Netty {@code EpollSocketChannel}
 * on the same event loop that carries the bytes of this channel and its pipeline. The IDTS attempt gets half the
 * connect timeout (at most {@value #IDTS_ATTEMPT_MAX_MILLIS} ms); whatever makes it fail (nobody listens, a stale
 * rendezvous entry, a refused or silent handshake, no Xen here) makes the channel fall back to TCP within what is left.
 * {@link #route()} says which route it took. An established connection never changes route: if an IDTS peer dies,
 * the channel closes with {@link IdtsPeerGoneException} as always.
 */
public final class IdtsChannel extends AbstractIdtsChannel {

    private static final ChannelMetadata METADATA = new ChannelMetadata(false, 16);
    private final IdtsChannelConfig config = new IdtsChannelConfig(this);

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
        attach(connection, remoteAddress);
        route = IdtsRoute.IDTS;
        state = State.ACTIVE;
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

    /**
     * The route this channel's bytes take: {@link IdtsRoute#IDTS} through shared memory, {@link IdtsRoute#TCP}
     * through a TCP connection (the channel connected to an address {@link IdtsAddress#withTcp with a TCP address}
     * and IDTS could not reach the service). {@code null} until the channel is connected. Any thread.
     */
    public IdtsRoute route() {
        return route;
    }

    /** The local address of the TCP connection on the {@link IdtsRoute#TCP TCP route}; {@code null} otherwise. */
    public InetSocketAddress tcpLocalAddress() {
        return route == IdtsRoute.TCP ? (InetSocketAddress) tcp.localAddress() : null;
    }

    /** The remote address of the TCP connection on the {@link IdtsRoute#TCP TCP route}; {@code null} otherwise. */
    public InetSocketAddress tcpRemoteAddress() {
        return route == IdtsRoute.TCP ? (InetSocketAddress) tcp.remoteAddress() : null;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Zero copy: metrics and transmit claims.

    /** Bytes read as zero-copy views of the receive ring so far. */
    public long zeroCopyReadBytes() {
        return zeroCopyReadBytes;
    }

    /** Bytes read by copying into buffers of the channel's allocator so far (zero-copy reads off, or hold limit). */
    public long copiedReadBytes() {
        return copiedReadBytes;
    }

    /**
     * Reads that copied although zero-copy reads were on, because views still held pinned as many slices of the
     * receive ring as {@link IdtsChannelOption#ZERO_COPY_HOLD_PERCENT} allows ({@link #pinnedBytesLimit()}). A number
     * that keeps growing means a handler keeps buffers for long: that costs copies, never progress.
     */
    public long holdLimitCopies() {
        return holdLimitCopies;
    }

    /**
     * Shared memory that zero-copy buffers still held by the pipeline pin now: the slices of the receive ring they lie
     * in (a held buffer pins its slices, nothing else). Never more than {@link #pinnedBytesLimit()}. Any thread; once
     * the channel is closed, what the views not released yet still pin (the mapping goes with the last of them).
     */
    public long pinnedBytes() {
        RingReader reader = pinCounters;
        return reader == null ? 0 : (long) reader.pinnedSlices() * reader.sliceSize();
    }

    /**
     * The most shared memory zero-copy buffers held by the pipeline may pin: past it, reads copy into buffers of the
     * channel's allocator and the stream goes on. Set by {@link IdtsChannelOption#ZERO_COPY_HOLD_PERCENT}; 0 before
     * the channel is connected. Any thread.
     */
    public long pinnedBytesLimit() {
        RingReader reader = pinCounters;
        return reader == null ? 0 : (long) maxPinnedSlices() * reader.sliceSize();
    }

    /** Bytes written through {@link #claim(int)} and {@link #commit(ByteBuf)} so far. */
    public long claimedBytes() {
        return claims.claimedBytes();
    }

    /**
     * Claims {@code size} bytes of free space in the transmit ring, to be written in place (no copy at all) and then
     * given to {@link #commit(ByteBuf)} or {@link #abort(ByteBuf)}. The claim is a writable, fixed-size
     * {@link ByteBuf} (capacity {@code size}, writer index 0) over the ring itself; {@code commit} sends the bytes up
     * to its writer index, at once (as {@code writeAndFlush} would), ahead of nothing: a claim is only granted when no
     * write is pending in the channel's outbound buffer, so the stream order is kept.
     *
     * <p>Call on the event loop (an encoder's {@code write}). One claim may be open at a time. A claim lies in one
     * slice of the ring (at most a 64th of the ring capacity): if {@code size} is larger, or no slice has that much
     * room, or anything else stands in the way (not active, output shut down, writes pending, a claim open, waiting
     * for space), it returns {@code null} and the caller writes as usual. {@link IdtsClaimEncoder} does all that for
     * an encoder.
     *
     * @return the claim, or {@code null} if no claim of that size can be made now
     * @throws IllegalStateException if not called on the event loop
     */
    public ByteBuf claim(int size) {
        ObjectUtil.checkPositive(size, "size");
        if (!eventLoop().inEventLoop()) {
            throw new IllegalStateException("claim() must be called on the channel's event loop");
        }
        if (claims.isOpen() || connection == null || state != State.ACTIVE || outputShutdown || waitingForSpace
                || size > writer.sliceSize()) {
            return null;
        }
        ChannelOutboundBuffer out = unsafe().outboundBuffer();
        if (out == null || !out.isEmpty() || out.totalPendingWriteBytes() != 0) {
            return null;
        }
        try {
            if (writer.state() != RegionLayout.STATE_OPEN || writer.contiguousWritableBytes(size) < size) {
                return null;
            }
        } catch (IdtsProtocolException e) {
            // The caller writes as usual instead, and finds the channel closed.
            ((IdtsUnsafe) unsafe()).protocolViolation(e);
            return null;
        }
        return claims.claim(writer, size, config.getAllocator());
    }

    /**
     * Sends the bytes written into {@code claim} (from index 0 to its writer index) and releases the claim. The bytes
     * are in the ring and published when this returns, as with a completed write.
     *
     * @throws IllegalArgumentException if {@code claim} is not this channel's open claim
     * @throws ClosedChannelException if the channel closed since the claim (nothing is sent)
     */
    public void commit(ByteBuf claim) throws IOException {
        checkOpenClaim(claim);
        if (connection == null) {
            claims.free(claim);
            throw new ClosedChannelException();
        }
        try {
            claims.commit(claim, writer);
            publishWritten();
        } catch (IdtsProtocolException e) {
            // Found in the publication: the bytes may be in the ring, but the channel is done.
            ((IdtsUnsafe) unsafe()).protocolViolation(e);
            throw e;
        }
    }

    /** Gives the claimed space back unused and releases the claim. Releasing the claim does the same. */
    public void abort(ByteBuf claim) {
        checkOpenClaim(claim);
        claims.free(claim);
    }

    private void checkOpenClaim(ByteBuf claim) {
        if (!eventLoop().inEventLoop()) {
            throw new IllegalStateException("commit() and abort() must be called on the channel's event loop");
        }
        if (!claims.isOpenClaim(claim)) {
            throw new IllegalArgumentException("not the open claim of " + this + ": " + claim);
        }
    }
}
