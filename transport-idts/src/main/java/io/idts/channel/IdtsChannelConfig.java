package io.idts.channel;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelOption;
import io.netty.channel.DefaultChannelConfig;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.DuplexChannelConfig;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.SystemPropertyUtil;

import java.util.Map;

import static io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE;
import static io.idts.channel.IdtsChannelOption.RING_CAPACITY;
import static io.idts.channel.IdtsChannelOption.SPIN_TIME_NANOS;

/**
 * The configuration of an {@link IdtsChannel}: Netty's standard options ({@code ALLOCATOR},
 * {@code RCVBUF_ALLOCATOR}, {@code AUTO_READ}, {@code WRITE_BUFFER_WATER_MARK}, {@code MAX_MESSAGES_PER_READ},
 * {@code CONNECT_TIMEOUT_MILLIS}, {@code ALLOW_HALF_CLOSURE}, ...) and the IDTS ones of {@link IdtsChannelOption}.
 */
public final class IdtsChannelConfig extends DefaultChannelConfig implements DuplexChannelConfig {

    static final int DEFAULT_RING_CAPACITY =
            SystemPropertyUtil.getInt("io.idts.ringCapacity", RegionLayout.DEFAULT_RING_CAPACITY);
    static final long DEFAULT_SPIN_TIME_NANOS = SystemPropertyUtil.getLong("io.idts.spinTimeNanos", 0);

    private volatile boolean allowHalfClosure;
    private volatile int ringCapacity = DEFAULT_RING_CAPACITY;
    private volatile long spinTimeNanos = DEFAULT_SPIN_TIME_NANOS;

    IdtsChannelConfig(IdtsChannel channel) {
        super(channel);
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), ALLOW_HALF_CLOSURE, RING_CAPACITY, SPIN_TIME_NANOS);
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
        } else {
            return super.setOption(option, value);
        }
        return true;
    }

    /** Capacity in bytes of each ring of a connection this channel makes. See {@link IdtsChannelOption#RING_CAPACITY}. */
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
        return this;
    }

    /** See {@link IdtsChannelOption#SPIN_TIME_NANOS}. */
    public long getSpinTimeNanos() {
        return spinTimeNanos;
    }

    /** Sets how long the event loop polls this channel's rings before it blocks; {@code 0} never spins. */
    public IdtsChannelConfig setSpinTimeNanos(long spinTimeNanos) {
        this.spinTimeNanos = ObjectUtil.checkPositiveOrZero(spinTimeNanos, "spinTimeNanos");
        return this;
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
