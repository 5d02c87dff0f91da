package io.idts.channel;

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
 * {@code RCVBUF_ALLOCATOR}, {@code MAX_MESSAGES_PER_READ}, ...) and {@code SO_BACKLOG}.
 *
 * <p>{@code SO_BACKLOG} means what it means for a listening socket on Linux: how many connections may have completed
 * their handshake and wait for the server to take them (while {@code AUTO_READ} is off and no {@code read()} was
 * asked for, or while the event loop is busy). Further connectors wait, and their connect times out after
 * {@code CONNECT_TIMEOUT_MILLIS} if no room comes free.
 */
public final class IdtsServerChannelConfig extends DefaultChannelConfig {

    private volatile int backlog = NetUtil.SOMAXCONN;

    IdtsServerChannelConfig(IdtsServerChannel channel) {
        // As Netty's server channels: reading accepted channels counts messages, not bytes.
        super(channel, new ServerChannelRecvByteBufAllocator());
    }

    @Override
    public Map<ChannelOption<?>, Object> getOptions() {
        return getOptions(super.getOptions(), SO_BACKLOG);
    }

    @SuppressWarnings("unchecked")
    @Override
    public <T> T getOption(ChannelOption<T> option) {
        if (option == SO_BACKLOG) {
            return (T) Integer.valueOf(getBacklog());
        }
        return super.getOption(option);
    }

    @Override
    public <T> boolean setOption(ChannelOption<T> option, T value) {
        validate(option, value);
        if (option == SO_BACKLOG) {
            setBacklog((Integer) value);
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
