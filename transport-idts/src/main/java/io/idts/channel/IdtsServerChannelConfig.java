package io.idts.channel;

import io.idts.channel.ring.RegionLayout;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.NetUtil;
import io.netty.util.internal.ObjectUtil;

import java.util.Map;

import static io.netty.channel.ChannelOption.SO_BACKLOG;

/**
 * The configuration of an {@link IdtsServerChannel}: Netty's standard options ({@code AUTO_READ},
 * {@code RCVBUF_ALLOCATOR}, {@code MAX_MESSAGES_PER_READ}, ...), {@code SO_BACKLOG}, and the limits the host backend
 * puts on what connecting peers may make it hold ({@link IdtsChannelOption#HELLO_TIMEOUT_MILLIS},
 * {@link IdtsChannelOption#MAX_PENDING_HANDSHAKES_PER_PROCESS}, {@link IdtsChannelOption#MAX_RING_CAPACITY},
 * {@link IdtsChannelOption#MAX_SHARED_MEMORY_PER_USER}; see docs/security.md). A change applies to the handshakes that
 * start afterwards.
 *
 * <p>{@code SO_BACKLOG} means what it means for a listening socket on Linux: how many connections may have completed
 * their handshake and wait for the server to take them (while {@code AUTO_READ} is off and no {@code read()} was
 * asked for, or while the event loop is busy). Further connectors wait, and their connect times out after
 * {@code CONNECT_TIMEOUT_MILLIS} if no room comes free.
 */
public final class IdtsServerChannelConfig extends DefaultChannelConfig {

    /** A connector sends its HELLO right after connecting; two seconds is generous even on a loaded machine. */
    public static final int DEFAULT_HELLO_TIMEOUT_MILLIS = 2_000;
    /** A process has as many connects under way as it has event loops connecting; 64 leaves room for big ones. */
    public static final int DEFAULT_MAX_PENDING_HANDSHAKES_PER_PROCESS = 64;
    /**
     * The default ring, so that a connector with the defaults is always accepted: large enough for bulk transfers, 32
     * MiB of shared memory per connection at most; or this JVM's default ring (system property
     * {@code io.idts.ringCapacity}) if that is larger, so that a client and a server both started with it can talk.
     */
    public static final int DEFAULT_MAX_RING_CAPACITY = defaultMaxRingCapacity(IdtsChannelConfig.DEFAULT_RING_CAPACITY);
    /**
     * About a thousand connections of the default ring size (32 MiB each: virtual, the pages are made as the rings are
     * written, and a connection slower than 1 GB/s writes a few slices of them).
     */
    public static final long DEFAULT_MAX_SHARED_MEMORY_PER_USER = 32L << 30;

    /**
     * The larger of the default ring and {@code jvmDefaultRing}, the ring {@code io.idts.ringCapacity} asks for; an
     * invalid one is left out (a connector asking for it fails on its own side, with a message that says why).
     */
    static int defaultMaxRingCapacity(int jvmDefaultRing) {
        return RegionLayout.isValidCapacity(jvmDefaultRing)
                ? Math.max(RegionLayout.DEFAULT_RING_CAPACITY, jvmDefaultRing) : RegionLayout.DEFAULT_RING_CAPACITY;
    }

    private volatile int backlog = NetUtil.SOMAXCONN;
    private volatile int helloTimeoutMillis = DEFAULT_HELLO_TIMEOUT_MILLIS;
    private volatile int maxPendingHandshakesPerProcess = DEFAULT_MAX_PENDING_HANDSHAKES_PER_PROCESS;
    private volatile int maxRingCapacity = DEFAULT_MAX_RING_CAPACITY;
    private volatile long maxSharedMemoryPerUser = DEFAULT_MAX_SHARED_MEMORY_PER_USER;

    IdtsServerChannelConfig(IdtsServerChannel channel) {
        // As Netty's server channels: reading accepted channels counts messages, not bytes.
        super(channel, new ServerChannelRecvByteBufAllocator());
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), SO_BACKLOG, IdtsChannelOption.HELLO_TIMEOUT_MILLIS,
                IdtsChannelOption.MAX_PENDING_HANDSHAKES_PER_PROCESS, IdtsChannelOption.MAX_RING_CAPACITY,
                IdtsChannelOption.MAX_SHARED_MEMORY_PER_USER);
    }

    @SuppressWarnings("unchecked")
    @Override
    public <T> T getOption(ChannelOption<T> option) {
        if (option == SO_BACKLOG) {
            return (T) Integer.valueOf(getBacklog());
        }
        if (option == IdtsChannelOption.HELLO_TIMEOUT_MILLIS) {
            return (T) Integer.valueOf(getHelloTimeoutMillis());
        }
        if (option == IdtsChannelOption.MAX_PENDING_HANDSHAKES_PER_PROCESS) {
            return (T) Integer.valueOf(getMaxPendingHandshakesPerProcess());
        }
        if (option == IdtsChannelOption.MAX_RING_CAPACITY) {
            return (T) Integer.valueOf(getMaxRingCapacity());
        }
        if (option == IdtsChannelOption.MAX_SHARED_MEMORY_PER_USER) {
            return (T) Long.valueOf(getMaxSharedMemoryPerUser());
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        if (option == SO_BACKLOG) {
            setBacklog((Integer) value);
        } else if (option == IdtsChannelOption.HELLO_TIMEOUT_MILLIS) {
            setHelloTimeoutMillis((Integer) value);
        } else if (option == IdtsChannelOption.MAX_PENDING_HANDSHAKES_PER_PROCESS) {
            setMaxPendingHandshakesPerProcess((Integer) value);
        } else if (option == IdtsChannelOption.MAX_RING_CAPACITY) {
            setMaxRingCapacity((Integer) value);
        } else if (option == IdtsChannelOption.MAX_SHARED_MEMORY_PER_USER) {
            setMaxSharedMemoryPerUser((Long) value);
        } else {
            return super.setOption(option, value);
        }
        return true;
    }

    /** How many handshaken connections may wait to be read; default {@code NetUtil.SOMAXCONN}, as Netty's. */
    public int getBacklog() {
        return backlog;
    }

    /**
     * Sets how many handshaken connections may wait to be read. {@code 0} lets one wait, as {@code listen(2)} does;
     * a change applies at once, also to a bound channel.
     *
     * @throws IllegalArgumentException if it is negative
     */
    public IdtsServerChannelConfig setBacklog(int backlog) {
        this.backlog = ObjectUtil.checkPositiveOrZero(backlog, "backlog");
        return this;
    }

    /** See {@link IdtsChannelOption#HELLO_TIMEOUT_MILLIS}. */
    public int getHelloTimeoutMillis() {
        return helloTimeoutMillis;
    }

    /**
     * Sets how long an accepted connection may take to send its handshake; see
     * {@link IdtsChannelOption#HELLO_TIMEOUT_MILLIS}.
     *
     * @throws IllegalArgumentException if it is not positive
     */
    public IdtsServerChannelConfig setHelloTimeoutMillis(int helloTimeoutMillis) {
        this.helloTimeoutMillis = ObjectUtil.checkPositive(helloTimeoutMillis, "helloTimeoutMillis");
        return this;
    }

    /** See {@link IdtsChannelOption#MAX_PENDING_HANDSHAKES_PER_PROCESS}. */
    public int getMaxPendingHandshakesPerProcess() {
        return maxPendingHandshakesPerProcess;
    }

    /**
     * Sets how many handshakes one process may have pending; see
     * {@link IdtsChannelOption#MAX_PENDING_HANDSHAKES_PER_PROCESS}.
     *
     * @throws IllegalArgumentException if it is not positive
     */
    public IdtsServerChannelConfig setMaxPendingHandshakesPerProcess(int maxPendingHandshakesPerProcess) {
        this.maxPendingHandshakesPerProcess =
                ObjectUtil.checkPositive(maxPendingHandshakesPerProcess, "maxPendingHandshakesPerProcess");
        return this;
    }

    /** See {@link IdtsChannelOption#MAX_RING_CAPACITY}. */
    public int getMaxRingCapacity() {
        return maxRingCapacity;
    }

    /**
     * Sets the largest ring a connector may ask for; see {@link IdtsChannelOption#MAX_RING_CAPACITY}.
     *
     * @throws IllegalArgumentException if it is not a ring capacity (a power of two from 4 KiB to 256 MiB)
     */
    public IdtsServerChannelConfig setMaxRingCapacity(int maxRingCapacity) {
        this.maxRingCapacity = RegionLayout.checkCapacity(maxRingCapacity);
        return this;
    }

    /** See {@link IdtsChannelOption#MAX_SHARED_MEMORY_PER_USER}. */
    public long getMaxSharedMemoryPerUser() {
        return maxSharedMemoryPerUser;
    }

    /**
     * Sets how much shared memory the connections of one user may make this server map; see
     * {@link IdtsChannelOption#MAX_SHARED_MEMORY_PER_USER}.
     *
     * @throws IllegalArgumentException if it is not positive
     */
    public IdtsServerChannelConfig setMaxSharedMemoryPerUser(long maxSharedMemoryPerUser) {
        this.maxSharedMemoryPerUser = ObjectUtil.checkPositive(maxSharedMemoryPerUser, "maxSharedMemoryPerUser");
        return this;
    }

    @Override
    @Deprecated
    public IdtsServerChannelConfig setMaxMessagesPerRead(int maxMessagesPerRead) {
        super.setMaxMessagesPerRead(maxMessagesPerRead);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setWriteSpinCount(int writeSpinCount) {
        super.setWriteSpinCount(writeSpinCount);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setConnectTimeoutMillis(int connectTimeoutMillis) {
        super.setConnectTimeoutMillis(connectTimeoutMillis);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setAllocator(ByteBufAllocator allocator) {
        super.setAllocator(allocator);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setRecvByteBufAllocator(RecvByteBufAllocator allocator) {
        super.setRecvByteBufAllocator(allocator);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setAutoRead(boolean autoRead) {
        super.setAutoRead(autoRead);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setAutoClose(boolean autoClose) {
        super.setAutoClose(autoClose);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setWriteBufferHighWaterMark(int writeBufferHighWaterMark) {
        super.setWriteBufferHighWaterMark(writeBufferHighWaterMark);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setWriteBufferLowWaterMark(int writeBufferLowWaterMark) {
        super.setWriteBufferLowWaterMark(writeBufferLowWaterMark);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setWriteBufferWaterMark(WriteBufferWaterMark writeBufferWaterMark) {
        super.setWriteBufferWaterMark(writeBufferWaterMark);
        return this;
    }

    @Override
    public IdtsServerChannelConfig setMessageSizeEstimator(MessageSizeEstimator estimator) {
        super.setMessageSizeEstimator(estimator);
        return this;
    }
}
