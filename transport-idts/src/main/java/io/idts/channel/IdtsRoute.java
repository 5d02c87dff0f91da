package io.idts.channel;

import io.netty.channel.Channel;
import io.netty.util.internal.ObjectUtil;

/**
 * The way a connection carries its bytes: through shared memory ({@link #IDTS}) or through a TCP connection
 * ({@link #TCP}). A client {@link IdtsChannel} connecting to an address {@link IdtsAddress#withTcp with a TCP address}
 * takes one or the other per connection; {@link IdtsChannel#route()} says which.
 */
public enum IdtsRoute {
    /** Shared-memory rings: the peer is on this machine (host backend) or this Xen host (Xen backend). */
    IDTS,
    /** Netty's epoll TCP channel: the peer is elsewhere, or not reachable through IDTS. */
    TCP;

    /**
     * The route of {@code channel}, for code that handles the children of an {@link IdtsServerChannel} listening on
     * both routes: {@link IdtsChannel#route()} for an IDTS channel, {@link #TCP} for any other (the TCP children are
     * Netty's own {@code EpollSocketChannel}s).
     *
     * @return the route, or {@code null} for an {@link IdtsChannel} not connected yet
     */
    public static IdtsRoute of(Channel channel) {
        ObjectUtil.checkNotNull(channel, "channel");
        return channel instanceof IdtsChannel ? ((IdtsChannel) channel).route() : TCP;
    }
}
