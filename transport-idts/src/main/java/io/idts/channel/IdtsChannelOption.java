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
     * {@code ByteBuf} views of the receive ring instead of copies; the ring space of a view is given back to the peer
     * when the view (and every view before it) is released. {@code false} copies every read into a buffer of the
     * channel's {@code ALLOCATOR}, and the ring space is given back at once.
     *
     * <p>A view is direct, of fixed capacity (it never grows) and writable, like the buffers Netty's other transports
     * read into: a handler may change the bytes it read (the JDK's {@code SSLEngine} decrypts TLS 1.3 records in
     * place). Its bytes are the reader's until it is released, so writing them cannot change the peer's stream.
     *
     * <p>Views are for a peer in the same trust domain (the host backend's peers: same user, same host, hence the
     * default). A Xen peer is another domain: for a Xen address the default is {@code false} (system property
     * {@code io.idts.xenZeroCopyReads}). A view is memory the peer can still write: a hostile peer can change bytes
     * after a parser checked them (a double fetch), so turn zero-copy reads off where the peer is not trusted. Copies
     * are taken once, after the producer position was validated, and are private.
     */
    public static final ChannelOption<Boolean> ZERO_COPY_READS = valueOf(IdtsChannelOption.class, "ZERO_COPY_READS");

    /**
     * The share of the receive ring, in percent (0 to 100, default 50, system property
     * {@code io.idts.zeroCopyHoldPercent}), that views still held by the pipeline may pin before reads copy instead
     * of making more views. Bytes are pinned from the start of the oldest view still held to the read position; while
     * they exceed this share, reads copy into buffers of the channel's {@code ALLOCATOR} (counted by
     * {@link IdtsChannel#holdLimitCopies()}), so a handler that keeps views (an aggregator, a cumulation) does not
     * make every later read pin more of the ring. {@code 100} never copies for this reason, {@code 0} copies whenever
     * any view is held.
     */
    public static final ChannelOption<Integer> ZERO_COPY_HOLD_PERCENT =
            valueOf(IdtsChannelOption.class, "ZERO_COPY_HOLD_PERCENT");

    @SuppressWarnings({ "unused", "deprecation" })
    private IdtsChannelOption() {
        super(null);
    }
}
