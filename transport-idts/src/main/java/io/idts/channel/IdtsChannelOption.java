package io.idts.channel;

import io.netty.channel.ChannelOption;

/**
 * Options of {@link IdtsChannel} beyond Netty's standard ones. Set them with {@code Bootstrap.option(...)} or, for
 * accepted channels, {@code ServerBootstrap.childOption(...)}.
 */
public final class IdtsChannelOption<T> extends ChannelOption<T> {

    /**
     * Capacity in bytes of each of the connection's two rings: a power of two from 4 KiB to 256 MiB, default 1 MiB
     * (system property {@code io.idts.ringCapacity}). The connecting side chooses it; on an accepted channel it has
     * no effect (the connecting peer chose already).
     */
    public static final ChannelOption<Integer> RING_CAPACITY = valueOf(IdtsChannelOption.class, "RING_CAPACITY");

    /**
     * How long, in nanoseconds, the event loop keeps polling this channel's rings after it ran out of work before it
     * blocks and waits for a notification. {@code 0} (the default, system property {@code io.idts.spinTimeNanos})
     * never spins: lowest CPU use. A spin of tens of microseconds lets a busy ping-pong run without any system call.
     * The loop spins for the longest spin time of its channels.
     */
    public static final ChannelOption<Long> SPIN_TIME_NANOS = valueOf(IdtsChannelOption.class, "SPIN_TIME_NANOS");

    @SuppressWarnings({ "unused", "deprecation" })
    private IdtsChannelOption() {
        super(null);
    }
}
