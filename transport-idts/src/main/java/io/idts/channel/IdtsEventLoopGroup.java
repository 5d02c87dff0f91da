package io.idts.channel;

import io.netty.channel.MultiThreadIoEventLoopGroup;

import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;

/**
 * A {@link MultiThreadIoEventLoopGroup} whose loops run {@link IdtsIoHandler}: the group for {@link IdtsChannel}
 * and {@link IdtsServerChannel}. Netty's epoll channels can be registered with it too.
 */
public final class IdtsEventLoopGroup extends MultiThreadIoEventLoopGroup {

    /** A group with Netty's default number of threads (twice the number of cores). */
    public IdtsEventLoopGroup() {
        this(0);
    }

    /** A group with {@code nThreads} threads; {@code 0} means Netty's default. */
    public IdtsEventLoopGroup(int nThreads) {
        super(nThreads, IdtsIoHandler.newFactory());
    }

    /** A group with {@code nThreads} threads made by {@code threadFactory}. */
    public IdtsEventLoopGroup(int nThreads, ThreadFactory threadFactory) {
        super(nThreads, threadFactory, IdtsIoHandler.newFactory());
    }

    /** A group with {@code nThreads} loops run on {@code executor}. */
    public IdtsEventLoopGroup(int nThreads, Executor executor) {
        super(nThreads, executor, IdtsIoHandler.newFactory());
    }
}
