package io.idts.microbench;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SelectStrategyFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

/**
 * How each Netty transport of the benchmark is set up, the same way on the client and the server side: one event
 * loop thread, the same water marks, {@code TCP_NODELAY} on TCP, the spin time on IDTS.
 */
final class NettyTransports {

    /** The spin time of {@link Transport#IDTS_SPIN} unless the arguments say otherwise (the testsuite's value). */
    static final long DEFAULT_SPIN_NANOS = 50_000;

    /** Write buffering of every channel of every transport: a writer stops at 512 KiB queued, resumes at 256 KiB. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(256 * 1024, 512 * 1024);

    /** Listen backlog of every server: room for the 1000 connections of the many-connections runs. */
    static final int BACKLOG = 4096;

    /** An epoll loop that never blocks: every turn is {@code epoll_wait} with a zero timeout. */
    private static final SelectStrategyFactory BUSY_POLL = () -> (selectNow, hasTasks) -> selectNow.get();

    private NettyTransports() {
    }

    /**
     * Makes Netty's default allocator (every channel's here) initialise itself now: its first buffer costs the JVM
     * most of a second (class loading, its JFR event types), which must not fall into the first window of whichever
     * transport first allocates a receive buffer (with zero-copy IDTS first, that was IDTS with copying reads, which
     * then received nothing for its first 150 to 300 ms). Both benchmark processes call it at start.
     */
    static void initAllocator() {
        ByteBufAllocator.DEFAULT.directBuffer(64 * 1024).release();
        ByteBufAllocator.DEFAULT.heapBuffer(1024).release();
    }

    /** The client's group: as {@link #newGroup}, but an IDTS one for the IDTS client of {@code IDTS_FALLBACK}. */
    static EventLoopGroup newClientGroup(Transport t, String threadName) {
        return t == Transport.IDTS_FALLBACK
                ? new IdtsEventLoopGroup(1, new DefaultThreadFactory(threadName, true)) : newGroup(t, threadName);
    }

    /** A group of one event loop thread (daemon, so that a failed run cannot hang the JVM) for {@code t}. */
    static EventLoopGroup newGroup(Transport t, String threadName) {
        DefaultThreadFactory threads = new DefaultThreadFactory(threadName, true);
        switch (t) {
            case IDTS_SPIN:
            case IDTS:
            case IDTS_COPY:
            case IDTS_NOTIFY:
            case IDTS_KEEP:
                return new IdtsEventLoopGroup(1, threads);
            case EPOLL_TCP:
            case IDTS_FALLBACK:
            case EPOLL_UDS:
                return new MultiThreadIoEventLoopGroup(1, threads, EpollIoHandler.newFactory());
            case EPOLL_TCP_BUSY:
                return new MultiThreadIoEventLoopGroup(1, threads, EpollIoHandler.newFactory(0, BUSY_POLL));
            case NIO_TCP:
                return new MultiThreadIoEventLoopGroup(1, threads, NioIoHandler.newFactory());
            default:
                throw new IllegalArgumentException(t + " is not a Netty transport");
        }
    }

    static void shutdown(EventLoopGroup group) {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(15, TimeUnit.SECONDS);
        }
    }

    static Class<? extends ServerChannel> serverChannelClass(Transport t) {
        switch (t) {
            case IDTS_SPIN:
            case IDTS:
            case IDTS_COPY:
            case IDTS_NOTIFY:
            case IDTS_KEEP:
                return IdtsServerChannel.class;
            case EPOLL_TCP:
            case IDTS_FALLBACK:
            case EPOLL_TCP_BUSY:
                return EpollServerSocketChannel.class;
            case EPOLL_UDS:
                return EpollServerDomainSocketChannel.class;
            case NIO_TCP:
                return NioServerSocketChannel.class;
            default:
                throw new IllegalArgumentException(t + " is not a Netty transport");
        }
    }

    static Class<? extends Channel> channelClass(Transport t) {
        switch (t) {
            case IDTS_SPIN:
            case IDTS:
            case IDTS_COPY:
            case IDTS_NOTIFY:
            case IDTS_KEEP:
            case IDTS_FALLBACK:
                return IdtsChannel.class;
            case EPOLL_TCP:
            case EPOLL_TCP_BUSY:
                return EpollSocketChannel.class;
            case EPOLL_UDS:
                return EpollDomainSocketChannel.class;
            case NIO_TCP:
                return NioSocketChannel.class;
            default:
                throw new IllegalArgumentException(t + " is not a Netty transport");
        }
    }

    static void configureServer(ServerBootstrap b, Transport t, long spinNanos, Boolean zeroCopyReads) {
        if (t.isIdts() && zeroCopyReads != null) {
            b.childOption(IdtsChannelOption.ZERO_COPY_READS, zeroCopyReads);
        }
        b.option(ChannelOption.SO_BACKLOG, BACKLOG);
        b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK);
        switch (t) {
            case IDTS_SPIN:
                b.childOption(IdtsChannelOption.SPIN_TIME_NANOS, spinNanos);
                break;
            case IDTS_NOTIFY:
                b.childOption(IdtsChannelOption.SPIN_TIME_NANOS, 0L);
                break;
            case IDTS_COPY:
                b.childOption(IdtsChannelOption.ZERO_COPY_READS, false);
                break;
            case EPOLL_TCP:
            case IDTS_FALLBACK:
            case EPOLL_TCP_BUSY:
            case NIO_TCP:
                b.childOption(ChannelOption.TCP_NODELAY, true);
                break;
            default:
                break;
        }
    }

    static void configureClient(Bootstrap b, Transport t, long spinNanos, Boolean zeroCopyReads) {
        if (t.isIdts() && zeroCopyReads != null) {
            b.option(IdtsChannelOption.ZERO_COPY_READS, zeroCopyReads);
        }
        b.option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK);
        b.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000);
        switch (t) {
            case IDTS_SPIN:
                b.option(IdtsChannelOption.SPIN_TIME_NANOS, spinNanos);
                break;
            case IDTS_NOTIFY:
                b.option(IdtsChannelOption.SPIN_TIME_NANOS, 0L);
                break;
            case IDTS_COPY:
                b.option(IdtsChannelOption.ZERO_COPY_READS, false);
                break;
            case EPOLL_TCP:
            case IDTS_FALLBACK:
            case EPOLL_TCP_BUSY:
            case NIO_TCP:
                b.option(ChannelOption.TCP_NODELAY, true);
                break;
            default:
                break;
        }
    }

    /** Where a server of {@code t} binds; {@code name} makes it unique to this run and role. */
    static SocketAddress bindAddress(Transport t, String name) {
        switch (t) {
            case IDTS_SPIN:
            case IDTS:
            case IDTS_COPY:
            case IDTS_NOTIFY:
            case IDTS_KEEP:
                return IdtsAddress.of(name);
            case EPOLL_TCP:
            case IDTS_FALLBACK:
            case EPOLL_TCP_BUSY:
            case NIO_TCP:
                return new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
            case EPOLL_UDS:
                Path path = Paths.get(System.getProperty("java.io.tmpdir"), name + ".sock");
                deleteSocketFile(path.toString());
                return new DomainSocketAddress(path.toString());
            default:
                throw new IllegalArgumentException(t + " is not a Netty transport");
        }
    }

    /** The bound address as one word for the control line. */
    static String format(SocketAddress address) {
        if (address instanceof InetSocketAddress) {
            return "tcp:" + ((InetSocketAddress) address).getPort();
        }
        if (address instanceof DomainSocketAddress) {
            return "uds:" + ((DomainSocketAddress) address).path();
        }
        if (address instanceof IdtsAddress) {
            return "idts:" + address;
        }
        throw new IllegalArgumentException("unexpected address " + address);
    }

    /**
     * The address the client of {@code t} connects to, given the server's: for {@code IDTS_FALLBACK}, an IDTS service
     * nobody serves with the server's TCP address, so that every connection takes the TCP fallback.
     */
    static SocketAddress clientAddress(Transport t, SocketAddress server) {
        if (t == Transport.IDTS_FALLBACK) {
            return IdtsAddress.of("bench-no-idts-" + ProcessHandle.current().pid()).withTcp((InetSocketAddress) server);
        }
        return server;
    }

    /** The inverse of {@link #format}. */
    static SocketAddress parse(String word) {
        if (word.startsWith("tcp:")) {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(word.substring(4)));
        }
        if (word.startsWith("uds:")) {
            return new DomainSocketAddress(word.substring(4));
        }
        if (word.startsWith("idts:")) {
            return IdtsAddress.parse(word.substring(5));
        }
        throw new IllegalArgumentException("unexpected address " + word);
    }

    static void deleteSocketFile(String path) {
        try {
            Files.deleteIfExists(Paths.get(path));
        } catch (Exception ignored) {
            // Best effort: a stale file only makes the next bind fail, with a clear message.
        }
    }

    /** Deletes the socket file of a Unix-domain server address, if it is one. */
    static void cleanUp(SocketAddress address) {
        if (address instanceof DomainSocketAddress) {
            deleteSocketFile(((DomainSocketAddress) address).path());
        }
    }
}
