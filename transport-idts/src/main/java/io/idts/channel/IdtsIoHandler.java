package io.idts.channel;


import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.ThreadAwareExecutor;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.StringUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The {@link IoHandler} of IDTS: polls the rings of its channels, keeps polling for a bounded spin time when they
 * run dry, then arms the rings' notifications and blocks in epoll.
 *
 * <p>It is Netty's {@link EpollIoHandler} plus ring polling. The epoll half waits on the notification sockets and
 * rendezvous sockets of the IDTS channels, on wakeups and timers, and on any other {@link EpollIoHandle}: Netty's
 * own epoll channels ({@code EpollSocketChannel}, {@code EpollServerSocketChannel}, ...) register with an
 * IDTS event loop as they would with an epoll one, so a server that reads TCP from the network and talks to its back
 * end over IDTS does both on one thread.
 *
 * <p>While the rings are busy the loop does not enter the kernel on every turn: it checks epoll without blocking at
 * most once every {@value #EPOLL_POLL_INTERVAL_MICROS} microseconds, so a busy IDTS channel delays the TCP channels
 * and hang-up detection of the same loop by at most that much.
 */
public final class IdtsIoHandler implements IoHandler {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(IdtsIoHandler.class);

    static final long EPOLL_POLL_INTERVAL_MICROS = 50;
    private static final long EPOLL_POLL_INTERVAL_NANOS = TimeUnit.MICROSECONDS.toNanos(EPOLL_POLL_INTERVAL_MICROS);
    private static final IdtsIoHandle[] NO_HANDLES = new IdtsIoHandle[0];

    private final ThreadAwareExecutor executor;
    private final IoHandler epoll;
    private final NonBlockingContext nonBlocking = new NonBlockingContext();

    /** Copy-on-write so that a channel closing while the loop iterates the array does not disturb the iteration. */
    private IdtsIoHandle[] handles = NO_HANDLES;
    private long lastEpollPollNanos;
    private final AdaptiveSpin adaptiveSpin = new AdaptiveSpin();
    /** Whether a handle of this loop asked for the adaptive spin, as of the last {@link #spinTimeNanos()}. */
    private boolean adaptive;
    /** Peer notifications handled since the loop last blocked. */
    private int peerNotifications;
    private boolean destroyPrepared;
    /** Per-loop resources of the backends, by type: the Xen backend's XenStore connection. */
    private final Map<Class<?>, AutoCloseable> backendResources = new HashMap<>();

    private IdtsIoHandler(ThreadAwareExecutor executor, IoHandler epoll) {
        this.executor = ObjectUtil.checkNotNull(executor, "executor");
        this.epoll = epoll;
    }

    /**
     * Returns a factory of {@link IdtsIoHandler}s, for {@code new MultiThreadIoEventLoopGroup(IdtsIoHandler
     * .newFactory())}; {@link IdtsEventLoopGroup} is the short form.
     *
     * @throws UnsupportedOperationException (from {@link Idts#ensureAvailability()}) if IDTS cannot run here
     */
    public static IoHandlerFactory newFactory() {
        Idts.ensureAvailability();
        IoHandlerFactory epollFactory = EpollIoHandler.newFactory();
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return new IdtsIoHandler(executor, epollFactory.newHandler(executor));
            }

            @Override
            public boolean isChangingThreadSupported() {
                return epollFactory.isChangingThreadSupported();
            }
        };
    }

    @Override
    public void initialize() {
        epoll.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        int handled = pollHandles();
        if (handled > 0) {
            return handled + pollEpollIfDue(System.nanoTime());
        }
        if (!context.canBlock()) {
            // Tasks wait but the rings are idle: nothing to save by skipping the kernel, and the epoll channels of
            // this loop (TCP routes among them) see their events as soon as on an epoll loop.
            lastEpollPollNanos = System.nanoTime();
            return epoll.run(nonBlocking);
        }

        long spinNanos = spinTimeNanos();
        if (spinNanos > 0) {
            long start = System.nanoTime();
            long deadline = start + spinNanos;
            long now;
            do {
                Thread.onSpinWait();
                handled = pollHandles();
                now = System.nanoTime();
                if (handled > 0 || !context.canBlock()) {
                    if (handled > 0 && adaptive) {
                        adaptiveSpin.found(now - start);
                    }
                    return handled + pollEpollIfDue(now);
                }
                handled = pollEpollIfDue(now);
                if (handled > 0) {
                    return handled;
                }
            } while (now - deadline < 0);
            if (adaptive) {
                adaptiveSpin.missed();
            }
        }

        // Out of work and out of spin: ask every peer for a notification, then block. prepareToSleep re-checks the
        // rings after arming, so a byte published in between is seen here instead of being slept through.
        if (prepareHandlesToSleep()) {
            return pollHandles();
        }
        long blocked = System.nanoTime();
        peerNotifications = 0;
        handled = epoll.run(context);
        lastEpollPollNanos = System.nanoTime();
        if (peerNotifications > 0 && adaptive) {
            adaptiveSpin.woke(lastEpollPollNanos - blocked);
        }
        return handled;
    }

    private int pollHandles() {
        int handled = 0;
        for (IdtsIoHandle handle : handles) {
            handled += handle.poll();
        }
        return handled;
    }

    private boolean prepareHandlesToSleep() {
        boolean ready = false;
        for (IdtsIoHandle handle : handles) {
            // Arm every handle even when an earlier one is ready: the loop comes back here soon anyway.
            ready |= handle.prepareToSleep();
        }
        return ready;
    }

    /**
     * The spin before blocking: the longest fixed spin time of the handles, or the adaptive spin if it is longer and a
     * handle asks for it. Sets {@link #adaptive}.
     */
    private long spinTimeNanos() {
        long spin = 0;
        boolean anyAdaptive = false;
        for (IdtsIoHandle handle : handles) {
            long handleSpin = handle.spinTimeNanos();
            if (handleSpin == IdtsChannelOption.SPIN_ADAPTIVE) {
                anyAdaptive = true;
            } else {
                spin = Math.max(spin, handleSpin);
            }
        }
        adaptive = anyAdaptive;
        return anyAdaptive ? Math.max(spin, adaptiveSpin.spinNanos()) : spin;
    }

    /** IDTS channels registered with this loop (server channels included). */
    int channels() {
        return handles.length;
    }

    /** A peer's notification reached one of this loop's channels (counted while the loop blocks). */
    void peerNotified() {
        peerNotifications++;
    }

    private int pollEpollIfDue(long now) {
        if (now - lastEpollPollNanos < EPOLL_POLL_INTERVAL_NANOS) {
            return 0;
        }
        lastEpollPollNanos = now;
        return epoll.run(nonBlocking);
    }

    @Override
    public void prepareToDestroy() {
        destroyPrepared = true;
        for (IdtsIoHandle handle : handles) {
            try {
                handle.close();
            } catch (Exception e) {
                logger.debug("Failed to close {} on shutdown", handle, e);
            }
        }
        epoll.prepareToDestroy();
    }

    @Override
    public void destroy() {
        // SingleThreadIoEventLoop skips prepareToDestroy() when the shutdown begins after its last runIo() and the
        // loop was idle for the quiet period; channels left open then would keep their mappings and descriptors.
        if (!destroyPrepared || handles.length > 0) {
            prepareToDestroy();
        }
        for (AutoCloseable resource : backendResources.values()) {
            try {
                resource.close();
            } catch (Exception e) {
                logger.warn("Could not close {} of {}", resource, this, e);
            }
        }
        backendResources.clear();
        epoll.destroy();
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        if (handle instanceof IdtsIoHandle) {
            IdtsIoHandle idtsHandle = (IdtsIoHandle) handle;
            IdtsIoHandle[] current = handles;
            IdtsIoHandle[] grown = Arrays.copyOf(current, current.length + 1);
            grown[current.length] = idtsHandle;
            handles = grown;
            idtsHandle.registered();
            return new IdtsIoRegistration(idtsHandle);
        }
        if (handle instanceof EpollIoHandle) {
            return epoll.register(handle);
        }
        throw new IllegalArgumentException("IoHandle of type " + StringUtil.simpleClassName(handle)
                + " not supported by " + StringUtil.simpleClassName(this));
    }

    /**
     * The resource of type {@code type} that a backend shares between its channels on this event loop (the Xen
     * backend's XenStore connection), made by {@code factory} on first use and closed when the loop ends. For the
     * backends of this transport; call on the event loop.
     */
    public <T extends AutoCloseable> T backendResource(Class<T> type, Callable<? extends T> factory)
            throws Exception {
        AutoCloseable resource = backendResources.get(type);
        if (resource == null) {
            resource = ObjectUtil.checkNotNull(factory.call(), "factory.call()");
            backendResources.put(type, resource);
        }
        return type.cast(resource);
    }

    @Override
    public void wakeup() {
        // While the loop spins it sees new tasks through IoHandlerContext.canBlock(); only a loop blocked in
        // epoll_wait needs the eventfd write, and EpollIoHandler does that only in that state.
        epoll.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return IdtsIoHandle.class.isAssignableFrom(handleType) || epoll.isCompatible(handleType);
    }

    private void unregister(IdtsIoHandle handle) {
        IdtsIoHandle[] current = handles;
        for (int i = 0; i < current.length; i++) {
            if (current[i] == handle) {
                IdtsIoHandle[] shrunk = new IdtsIoHandle[current.length - 1];
                System.arraycopy(current, 0, shrunk, 0, i);
                System.arraycopy(current, i + 1, shrunk, i, current.length - i - 1);
                handles = shrunk;
                handle.unregistered();
                return;
            }
        }
    }

    /** The context handed to the epoll half when it must only look, never block. */
    private static final class NonBlockingContext implements IoHandlerContext {
        @Override
        public boolean canBlock() {
            return false;
        }

        @Override
        public long delayNanos(long currentTimeNanos) {
            return 0;
        }

        @Override
        public long deadlineNanos() {
            return -1;
        }
    }

    private final class IdtsIoRegistration implements IoRegistration {
        private final IdtsIoHandle handle;
        private volatile boolean cancelled;

        IdtsIoRegistration(IdtsIoHandle handle) {
            this.handle = handle;
        }

        @SuppressWarnings("unchecked")
        @Override
        public <T> T attachment() {
            return (T) IdtsIoHandler.this;
        }

        @Override
        public long submit(IoOps ops) {
            // Rings are polled, not armed per operation: there is nothing to submit.
            throw new UnsupportedOperationException("IDTS handles are polled; they take no IoOps");
        }

        @Override
        public boolean isValid() {
            return !cancelled;
        }

        @Override
        public boolean cancel() {
            if (cancelled) {
                return false;
            }
            cancelled = true;
            if (executor.isExecutorThread(Thread.currentThread())) {
                unregister(handle);
            } else {
                executor.execute(() -> unregister(handle));
            }
            return true;
        }
    }
}
