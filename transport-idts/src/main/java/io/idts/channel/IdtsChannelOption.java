package io.idts.channel;

import io.netty.channel.ChannelOption;

/**
 * Options of {@link IdtsChannel} beyond Netty's standard ones. Set them with {@code Bootstrap.option(...)} or, for
 * accepted channels, {@code ServerBootstrap.childOption(...)}.
 */
public final class IdtsChannelOption<T> extends ChannelOption<T> {

    /**
     * Capacity in bytes of each of the connection's two rings: a power of two from 4 KiB to 256 MiB, default 1 MiB
     * (system property {@code io.idts.ringCapacity}); for a Xen address the default is 128 KiB (system property
     * {@code io.idts.xenRingCapacity}), because every page of a ring is a grant, and Linux's gntalloc driver allows
     * 1024 of them in all unless its {@code limit} parameter is raised. The connecting side chooses it; on an
     * accepted channel it has no effect (the connecting peer chose already).
     */
    public static final ChannelOption<Integer> RING_CAPACITY = valueOf(IdtsChannelOption.class, "RING_CAPACITY");

    /**
     * How long, in nanoseconds, the event loop keeps polling this channel's rings after it ran out of work before it
     * blocks and waits for a notification. {@code 0} (the default, system property {@code io.idts.spinTimeNanos})
     * never spins: lowest CPU use. A spin of tens of microseconds lets a busy ping-pong run without any system call.
     * The loop spins for the longest spin time of its channels.
     */
    public static final ChannelOption<Long> SPIN_TIME_NANOS = valueOf(IdtsChannelOption.class, "SPIN_TIME_NANOS");

    /**
     * Zero-copy reads: {@code true} (the default, system property {@code io.idts.zeroCopyReads}) hands the pipeline
     * {@code ByteBuf} views of the receive ring instead of copies. A view lies in one slice of the ring (a 64th of it)
     * and pins that slice until it is released, in any order, on any thread; keeping views costs shared memory up to
     * {@link #ZERO_COPY_HOLD_PERCENT}, then copies, never progress. {@code false} copies every read into a buffer of
     * the channel's {@code ALLOCATOR}, and the ring space is given back at once.
     *
     * <p>A view is direct, of fixed capacity (it never grows) and writable, like the buffers Netty's other transports
     * read into: a handler may change the bytes it read (the JDK's {@code SSLEngine} decrypts TLS 1.3 records in
     * place). Its bytes are the reader's until it is released, so writing them cannot change the peer's stream.
     *
     * <p>Views are for a peer in the same trust domain (the host backend's peers: same user, same host, hence the
     * default). A Xen peer is another domain: for a Xen address the default is {@code false} (system property
     * {@code io.idts.xenZeroCopyReads}). A view is memory the peer can still write: a hostile peer can change bytes
     * after a parser checked them (a double fetch), so turn zero-copy reads off where the peer is not trusted. Copies
     * are taken once, after the descriptors were validated, and are private.
     */
    public static final ChannelOption<Boolean> ZERO_COPY_READS = valueOf(IdtsChannelOption.class, "ZERO_COPY_READS");

    /**
     * The share of the receive ring's slices, in percent (0 to 100, default 50, system property
     * {@code io.idts.zeroCopyHoldPercent}), that zero-copy buffers still held by the pipeline may pin. A held buffer
     * pins the slice (a 64th of the ring) it lies in, and nothing else; while the pinned slices reach this share,
     * reads of bytes in other slices copy into buffers of the channel's {@code ALLOCATOR} instead (counted by
     * {@link IdtsChannel#holdLimitCopies()}), so a handler that keeps buffers (an aggregator, a cache) costs copies and
     * memory, never progress. Whatever the value, two slices are never pinned, so that the peer always has one to
     * write into and one on its way back. {@code 0} makes every read a copy.
     */
    public static final ChannelOption<Integer> ZERO_COPY_HOLD_PERCENT =
            valueOf(IdtsChannelOption.class, "ZERO_COPY_HOLD_PERCENT");

    @SuppressWarnings({ "unused", "deprecation" })
    private IdtsChannelOption() {
        super(null);
    }
}
