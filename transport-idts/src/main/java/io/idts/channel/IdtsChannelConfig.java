package io.idts.channel;

import io.idts.channel.ring.RegionLayout;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.socket.DuplexChannelConfig;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.SystemPropertyUtil;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE;
import static io.netty.channel.ChannelOption.IP_TOS;
import static io.netty.channel.ChannelOption.SO_KEEPALIVE;
import static io.netty.channel.ChannelOption.SO_LINGER;
import static io.netty.channel.ChannelOption.SO_RCVBUF;
import static io.netty.channel.ChannelOption.SO_REUSEADDR;
import static io.netty.channel.ChannelOption.SO_SNDBUF;
import static io.netty.channel.ChannelOption.TCP_NODELAY;
import static io.idts.channel.IdtsChannelOption.RING_CAPACITY;
import static io.idts.channel.IdtsChannelOption.SPIN_TIME_NANOS;
import static io.idts.channel.IdtsChannelOption.ZERO_COPY_HOLD_PERCENT;
import static io.idts.channel.IdtsChannelOption.ZERO_COPY_READS;

/**
 * The configuration of an {@link IdtsChannel}: Netty's standard options ({@code ALLOCATOR},
 * {@code RCVBUF_ALLOCATOR}, {@code AUTO_READ}, {@code WRITE_BUFFER_WATER_MARK}, {@code MAX_MESSAGES_PER_READ},
 * {@code CONNECT_TIMEOUT_MILLIS}, {@code ALLOW_HALF_CLOSURE}, ...) and the IDTS ones of {@link IdtsChannelOption}.
 *
 * <p>It also takes the socket options of Netty's epoll TCP channel ({@code TCP_NODELAY}, {@code SO_KEEPALIVE},
 * {@code SO_SNDBUF}, {@code SO_RCVBUF}, {@code SO_LINGER}, {@code IP_TOS}, {@code SO_REUSEADDR} and the
 * {@code EpollChannelOption}s): they mean nothing to shared memory, and apply to the TCP connection when the channel
 * connects to an address {@link IdtsAddress#withTcp with a TCP address} over TCP ({@link IdtsRoute#TCP}).
 */
public final class IdtsChannelConfig extends DefaultChannelConfig implements DuplexChannelConfig {

    /** Names of the options declared by {@code EpollChannelOption} and {@code UnixChannelOption}. */
    private static final String EPOLL_OPTION_PREFIX = EpollChannelOption.class.getName() + '#';
    private static final String UNIX_OPTION_PREFIX = UnixChannelOption.class.getName() + '#';

    static final int DEFAULT_RING_CAPACITY =
            SystemPropertyUtil.getInt("io.idts.ringCapacity", RegionLayout.DEFAULT_RING_CAPACITY);
    static final int DEFAULT_XEN_RING_CAPACITY = SystemPropertyUtil.getInt("io.idts.xenRingCapacity", 128 * 1024);
    /**
     * With the default capacity, the rings of a loop's connections share about this many bytes: a connection made on
     * a loop that has {@code n} IDTS channels (itself included) gets {@code RING_BYTES_PER_LOOP / n} rounded down to a
     * power of two, between {@link #MIN_SHARED_RING_CAPACITY} and the default (16 MiB for the first 4 channels,
     * 8 MiB up to 8, 4 MiB up to 16, 256 KiB from the 257th on).
     */
    static final long RING_BYTES_PER_LOOP =
            Math.max(1, SystemPropertyUtil.getLong("io.idts.ringBytesPerLoop", 64L << 20));
    static final int MIN_SHARED_RING_CAPACITY = 256 << 10;
    static final long DEFAULT_SPIN_TIME_NANOS = SystemPropertyUtil.getLong("io.idts.spinTimeNanos",
            IdtsChannelOption.SPIN_ADAPTIVE);
    static final boolean DEFAULT_ZERO_COPY_READS = SystemPropertyUtil.getBoolean("io.idts.zeroCopyReads", true);
    static final boolean DEFAULT_XEN_ZERO_COPY_READS = SystemPropertyUtil.getBoolean("io.idts.xenZeroCopyReads", false);
    static final int DEFAULT_ZERO_COPY_HOLD_PERCENT = SystemPropertyUtil.getInt("io.idts.zeroCopyHoldPercent", 50);

    private volatile boolean allowHalfClosure;
    private volatile int ringCapacity = DEFAULT_RING_CAPACITY;
    private volatile boolean ringCapacitySet;
    private volatile long spinTimeNanos = DEFAULT_SPIN_TIME_NANOS;
    private volatile boolean zeroCopyReads = DEFAULT_ZERO_COPY_READS;
    private volatile boolean zeroCopyReadsSet;
    private volatile int zeroCopyHoldPercent = checkHoldPercent(DEFAULT_ZERO_COPY_HOLD_PERCENT);
    /** Socket options for the TCP route. */
    private final Map<ChannelOption<?>, Object> tcpOptions = new ConcurrentHashMap<>();

    IdtsChannelConfig(IdtsChannel channel) {
        super(channel);
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), ALLOW_HALF_CLOSURE, RING_CAPACITY, SPIN_TIME_NANOS,
                ZERO_COPY_READS, ZERO_COPY_HOLD_PERCENT);
    }

    @SuppressWarnings("unchecked")
    @Override
    public <T> T getOption(ChannelOption<T> option) {
        if (option == ALLOW_HALF_CLOSURE) {
            return (T) Boolean.valueOf(isAllowHalfClosure());
        }
        if (option == RING_CAPACITY) {
            return (T) Integer.valueOf(getRingCapacity());
        }
        if (option == SPIN_TIME_NANOS) {
            return (T) Long.valueOf(getSpinTimeNanos());
        }
        if (option == ZERO_COPY_READS) {
            return (T) Boolean.valueOf(isZeroCopyReads());
        }
        if (option == ZERO_COPY_HOLD_PERCENT) {
            return (T) Integer.valueOf(getZeroCopyHoldPercent());
        }
        if (isTcpOption(option)) {
            return (T) tcpOptions.get(option);
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        if (option == ALLOW_HALF_CLOSURE) {
            setAllowHalfClosure((Boolean) value);
        } else if (option == RING_CAPACITY) {
            setRingCapacity((Integer) value);
        } else if (option == SPIN_TIME_NANOS) {
            setSpinTimeNanos((Long) value);
        } else if (option == ZERO_COPY_READS) {
            setZeroCopyReads((Boolean) value);
        } else if (option == ZERO_COPY_HOLD_PERCENT) {
            setZeroCopyHoldPercent((Integer) value);
        } else if (isTcpOption(option)) {
            tcpOptions.put(option, value);
        } else {
            return super.setOption(option, value);
        }
        return true;
    }

    /** Returns {@code true} for the socket options kept for the TCP route. */
    private static boolean isTcpOption(ChannelOption<?> option) {
        return option == TCP_NODELAY || option == SO_KEEPALIVE || option == SO_SNDBUF || option == SO_RCVBUF
                || option == SO_LINGER || option == IP_TOS || option == SO_REUSEADDR
                || option.name().startsWith(EPOLL_OPTION_PREFIX) || option.name().startsWith(UNIX_OPTION_PREFIX);
    }

    /** The socket options set for the TCP route. */
    Map<ChannelOption<?>, Object> tcpOptions() {
        return tcpOptions;
    }

    /** Capacity in bytes of each ring of a connection this channel makes: {@link IdtsChannelOption#RING_CAPACITY}. */
    public int getRingCapacity() {
        return ringCapacity;
    }

    /**
     * Sets the capacity of each ring, a power of two from 4 KiB to 256 MiB.
     *
     * @throws IllegalArgumentException if it is not
     */
    public IdtsChannelConfig setRingCapacity(int ringCapacity) {
        this.ringCapacity = RegionLayout.checkCapacity(ringCapacity);
        ringCapacitySet = true;
        return this;
    }

    /**
     * The ring capacity of a connection to {@code remote} made on a loop that has {@code channelsOnLoop} IDTS
     * channels: the one set, or the default of its backend, shared out among the loop's connections on the host.
     */
    int ringCapacityFor(IdtsAddress remote, int channelsOnLoop) {
        if (ringCapacitySet) {
            return ringCapacity;
        }
        if (remote.isXen()) {
            return RegionLayout.checkCapacity(DEFAULT_XEN_RING_CAPACITY);
        }
        // Many connections on one loop: the reader comes round to each rarely, and every ring fills up, so what a
        // connection has in flight is its whole ring. Smaller rings keep the loop's memory in flight, and with it the
        // page faults and cache misses of touching it, near what ten connections have (docs/benchmarks.md).
        long share = RING_BYTES_PER_LOOP / Math.max(1, channelsOnLoop);
        if (share >= ringCapacity) {
            return ringCapacity;
        }
        return (int) Math.max(Math.min(MIN_SHARED_RING_CAPACITY, ringCapacity), Long.highestOneBit(share));
    }

    /** See {@link IdtsChannelOption#SPIN_TIME_NANOS}. */
    public long getSpinTimeNanos() {
        return spinTimeNanos;
    }

    /**
     * Sets how long the event loop polls this channel's rings before it blocks: {@link
     * IdtsChannelOption#SPIN_ADAPTIVE} (the default) adapts, {@code 0} never spins, a positive value always spins that
     * long.
     */
    public IdtsChannelConfig setSpinTimeNanos(long spinTimeNanos) {
        if (spinTimeNanos < 0 && spinTimeNanos != IdtsChannelOption.SPIN_ADAPTIVE) {
            throw new IllegalArgumentException("spinTimeNanos: " + spinTimeNanos + " (expected: >= 0, or "
                    + "IdtsChannelOption.SPIN_ADAPTIVE (" + IdtsChannelOption.SPIN_ADAPTIVE
                    + ") for the adaptive spin)");
        }
        this.spinTimeNanos = spinTimeNanos;
        return this;
    }

    /** See {@link IdtsChannelOption#ZERO_COPY_READS}. */
    public boolean isZeroCopyReads() {
        return zeroCopyReads;
    }

    /**
     * Turns zero-copy reads on (views of the receive ring) or off (copies into the channel's allocator).
     * Takes effect from the next read; views already handed out stay valid until released.
     */
    public IdtsChannelConfig setZeroCopyReads(boolean zeroCopyReads) {
        this.zeroCopyReads = zeroCopyReads;
        zeroCopyReadsSet = true;
        return this;
    }

    /**
     * Applies the defaults of the backend that serves {@code remote} to what was not set: a Xen peer is another
     * domain, another trust domain, so zero-copy reads are off for it unless set.
     */
    void applyBackendDefaults(IdtsAddress remote) {
        if (remote.isXen() && !zeroCopyReadsSet) {
            zeroCopyReads = DEFAULT_XEN_ZERO_COPY_READS;
        }
    }

    /** See {@link IdtsChannelOption#ZERO_COPY_HOLD_PERCENT}. */
    public int getZeroCopyHoldPercent() {
        return zeroCopyHoldPercent;
    }

    /**
     * Sets the share of the receive ring, 0 to 100 percent, that held views may pin before reads copy instead.
     *
     * @throws IllegalArgumentException if out of range
     */
    public IdtsChannelConfig setZeroCopyHoldPercent(int percent) {
        this.zeroCopyHoldPercent = checkHoldPercent(percent);
        return this;
    }

    private static int checkHoldPercent(int percent) {
        return ObjectUtil.checkInRange(percent, 0, 100, "zeroCopyHoldPercent");
    }

    @Override
    public boolean isAllowHalfClosure() {
        return allowHalfClosure;
    }

    @Override
    public IdtsChannelConfig setAllowHalfClosure(boolean allowHalfClosure) {
        this.allowHalfClosure = allowHalfClosure;
        return this;
    }

    @Override
    @Deprecated
    public IdtsChannelConfig setMaxMessagesPerRead(int maxMessagesPerRead) {
        super.setMaxMessagesPerRead(maxMessagesPerRead);
        return this;
    }

    @Override
    public IdtsChannelConfig setWriteSpinCount(int writeSpinCount) {
        super.setWriteSpinCount(writeSpinCount);
        return this;
    }

    @Override
    public IdtsChannelConfig setConnectTimeoutMillis(int connectTimeoutMillis) {
        super.setConnectTimeoutMillis(connectTimeoutMillis);
        return this;
    }

    @Override
    public IdtsChannelConfig setAllocator(ByteBufAllocator allocator) {
        super.setAllocator(allocator);
        return this;
    }

    @Override
    public IdtsChannelConfig setRecvByteBufAllocator(RecvByteBufAllocator allocator) {
        super.setRecvByteBufAllocator(allocator);
        return this;
    }

    @Override
    public IdtsChannelConfig setAutoRead(boolean autoRead) {
        super.setAutoRead(autoRead);
        ((IdtsChannel) channel).autoReadChanged(autoRead);
        return this;
    }

    @Override
    public IdtsChannelConfig setAutoClose(boolean autoClose) {
        super.setAutoClose(autoClose);
        return this;
    }

    @Override
    public IdtsChannelConfig setWriteBufferHighWaterMark(int writeBufferHighWaterMark) {
        super.setWriteBufferHighWaterMark(writeBufferHighWaterMark);
        return this;
    }

    @Override
    public IdtsChannelConfig setWriteBufferLowWaterMark(int writeBufferLowWaterMark) {
        super.setWriteBufferLowWaterMark(writeBufferLowWaterMark);
        return this;
    }

    @Override
    public IdtsChannelConfig setWriteBufferWaterMark(WriteBufferWaterMark writeBufferWaterMark) {
        super.setWriteBufferWaterMark(writeBufferWaterMark);
        return this;
    }

    @Override
    public IdtsChannelConfig setMessageSizeEstimator(MessageSizeEstimator estimator) {
        super.setMessageSizeEstimator(estimator);
        return this;
    }
}
