package io.idts.channel;

import io.netty.channel.ChannelOption;

/**
 * Options of {@link IdtsChannel} beyond Netty's standard ones. Set them with {@code Bootstrap.option(...)} or, for
 * accepted channels, {@code ServerBootstrap.childOption(...)}.
 */
public final class IdtsChannelOption<T> extends ChannelOption<T> {

    /**
     * Capacity in bytes of each of the connection's two rings: a power of two from 4 KiB to 256 MiB, default 16 MiB
     * (system property {@code io.idts.ringCapacity}: a ring larger than the caches near the reader's core is what lets
     * a stream's writer rewrite lines the reader's core no longer holds; a stream faster than 1 GB/s touches its whole
     * ring, a slower one a few slices). Unless set, the host rings of one event loop's connections share about 64 MiB
     * (system property {@code io.idts.ringBytesPerLoop}): a connection made on a loop with {@code n} IDTS channels gets
     * {@code 64 MiB / n} rounded down to a power of two, from 256 KiB to the default, so that a thousand busy
     * connections do not put a thousand full rings in flight. For a Xen address the default is 128 KiB (system property
     * {@code io.idts.xenRingCapacity}), because every page of a ring is a grant, and Linux's gntalloc driver allows
     * 1024 of them in all unless its {@code limit} parameter is raised. The connecting side chooses it; on an
     * accepted channel it has no effect (the connecting peer chose already).
     */
    public static final ChannelOption<Integer> RING_CAPACITY = valueOf(IdtsChannelOption.class, "RING_CAPACITY");

    /**
     * How long, in nanoseconds, the event loop keeps polling this channel's rings after it ran out of work before it
     * blocks and waits for a notification. {@link #SPIN_ADAPTIVE} (the default, system property
     * {@code io.idts.spinTimeNanos}) spins as long as the peer's recent answers took, up to 50 microseconds, and not
     * at all when they took longer or the channel is idle: a busy connection runs without system calls, an idle one
     * costs nothing. {@code 0} never spins (every wait ends with a notification: lowest CPU use, a wake-up's latency
     * on every round trip). A positive value always spins that long. The loop spins for the longest spin time of its
     * channels.
     */
    public static final ChannelOption<Long> SPIN_TIME_NANOS = valueOf(IdtsChannelOption.class, "SPIN_TIME_NANOS");

    /** The {@link #SPIN_TIME_NANOS} of the adaptive spin, the default. */
    public static final long SPIN_ADAPTIVE = -1;

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

    /**
     * Server option ({@code ServerBootstrap.option(...)}), host backend: how long, in milliseconds, an accepted
     * connection may take to send its handshake before the server drops it and frees its handshake slot; default
     * {@value IdtsServerChannelConfig#DEFAULT_HELLO_TIMEOUT_MILLIS}. A well-behaved connector sends it right after
     * connecting.
     */
    public static final ChannelOption<Integer> HELLO_TIMEOUT_MILLIS =
            valueOf(IdtsChannelOption.class, "HELLO_TIMEOUT_MILLIS");

    /**
     * Server option, host backend: how many accepted connections one process (by the pid of the socket's peer
     * credentials) may have whose handshake has not arrived yet; default
     * {@value IdtsServerChannelConfig#DEFAULT_MAX_PENDING_HANDSHAKES_PER_PROCESS}. Further connections of that process
     * are refused at once with the reply code {@code TOO_MANY_HANDSHAKES}, so that silent connections of one process
     * cannot take every handshake slot from the others.
     */
    public static final ChannelOption<Integer> MAX_PENDING_HANDSHAKES_PER_PROCESS =
            valueOf(IdtsChannelOption.class, "MAX_PENDING_HANDSHAKES_PER_PROCESS");

    /**
     * Server option, host backend: the largest ring, in bytes, a connector may ask this server to map (the connector
     * chooses both rings' capacity); default 16 MiB, or this JVM's default {@link #RING_CAPACITY} (system property
     * {@code io.idts.ringCapacity}) if that is larger, so that a connector with the same defaults is always accepted
     * ({@link IdtsServerChannelConfig#DEFAULT_MAX_RING_CAPACITY}); at most 256 MiB. A larger request is refused with
     * the reply code {@code RING_TOO_LARGE}.
     */
    public static final ChannelOption<Integer> MAX_RING_CAPACITY =
            valueOf(IdtsChannelOption.class, "MAX_RING_CAPACITY");

    /**
     * Server option, host backend: how many bytes of shared regions, in all, this server keeps mapped for the
     * connections of one user (by the uid of the socket's peer credentials), handshakes under way included; default
     * {@value IdtsServerChannelConfig#DEFAULT_MAX_SHARED_MEMORY_PER_USER} (32 GiB). A connection that would exceed it
     * is refused with the reply code {@code SHARED_MEMORY_LIMIT}; the memory counts until the connection is closed
     * and its last zero-copy view released.
     */
    public static final ChannelOption<Long> MAX_SHARED_MEMORY_PER_USER =
            valueOf(IdtsChannelOption.class, "MAX_SHARED_MEMORY_PER_USER");

    @SuppressWarnings({ "unused", "deprecation" })
    private IdtsChannelOption() {
        super(null);
    }
}
