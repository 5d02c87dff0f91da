package io.idts.channel.xen;

import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.FdWatch;

import io.idts.linux.NativeIoException;
import io.idts.xen.XenStore;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One event loop's connection to XenStore, made when its first Xen channel needs it: the XenStore handle the Xen
 * backend reads and writes through on that loop, and the dispatch of its watch events, read from the handle's
 * descriptor by the loop's epoll. A handle per loop, not per channel, because xenstored limits the watches and
 * connections of each domain. Used on the event loop only.
 *
 * <p>It also watches {@code @releaseDomain} for the channels whose peer is another domain: when any domain is
 * released, each peer domain watched is looked up, and the channels of a domain that is gone are told. An unmap
 * notification cannot do that: a destroyed domain's kernel never unmaps.
 */
public final class XenStoreWatcher implements AutoCloseable {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenStoreWatcher.class);

    private static final String RELEASE_DOMAIN = "@releaseDomain";
    private static final String RELEASE_TOKEN = "idts-release";

    private final XenStore xenStore;
    private final int selfDomid;
    private final Map<String, Consumer<String>> watches = new HashMap<>();
    private final Map<Integer, List<Runnable>> domainWatches = new HashMap<>();
    private IoRegistration registration;
    private long nextToken;
    private boolean releaseWatched;

    private XenStoreWatcher(XenStore xenStore, int selfDomid) {
        this.xenStore = xenStore;
        this.selfDomid = selfDomid;
    }

    public static XenStoreWatcher open(IdtsIoHandler handler) throws Exception {
        XenStore xenStore = XenStore.open();
        try {
            XenStoreWatcher watcher = new XenStoreWatcher(xenStore, XenBackend.readSelfDomid(xenStore));
            // Level-triggered: the descriptor stays readable while events are queued, so none is left behind when
            // one turn reads only some.
            watcher.registration = new FdWatch(xenStore.fd(), ops -> watcher.ready())
                    .register(handler, EpollIoOps.EPOLLIN);
            return watcher;
        } catch (Exception | Error e) {
            xenStore.close();
            throw e;
        }
    }

    XenStore xenStore() {
        return xenStore;
    }

    /** The id of the domain this process runs in. */
    int selfDomid() {
        return selfDomid;
    }

    /**
     * Watches {@code path} and everything below it; {@code callback} receives the path that changed. As XenStore
     * does, the watch fires once at once.
     *
     * @return the token that {@link #unwatch(String, String)} takes
     */
    String watch(String path, Consumer<String> callback) throws NativeIoException {
        String token = "idts-" + nextToken++;
        watches.put(token, callback);
        try {
            xenStore.watch(path, token);
        } catch (NativeIoException e) {
            watches.remove(token);
            throw e;
        }
        return token;
    }

    void unwatch(String path, String token) {
        if (watches.remove(token) != null) {
            try {
                xenStore.unwatch(path, token);
            } catch (NativeIoException e) {
                logger.debug("Could not remove the XenStore watch of {}", path, e);
            }
        }
    }

    /** Runs {@code gone} once the domain {@code domid} is gone (destroyed, or crashed and released). */
    void watchDomain(int domid, Runnable gone) throws NativeIoException {
        if (!releaseWatched) {
            xenStore.watch(RELEASE_DOMAIN, RELEASE_TOKEN);
            releaseWatched = true;
        }
        domainWatches.computeIfAbsent(domid, d -> new ArrayList<>(1)).add(gone);
    }

    void unwatchDomain(int domid, Runnable gone) {
        List<Runnable> list = domainWatches.get(domid);
        if (list != null && list.remove(gone) && list.isEmpty()) {
            domainWatches.remove(domid);
        }
    }

    /** {@code true} unless XenStore says that {@code domid} has no home path any more. */
    boolean domainExists(int domid) {
        try {
            return xenStore.read(XenStore.NO_TRANSACTION, xenStore.domainPath(domid)) != null;
        } catch (NativeIoException e) {
            // EACCES: the path exists, but this domain may not read it.
            return true;
        }
    }

    private void ready() {
        try {
            String[] event;
            while ((event = xenStore.readWatch(0)) != null) {
                dispatch(event[0], event[1]);
            }
        } catch (NativeIoException e) {
            logger.warn("Could not read XenStore watch events", e);
        }
    }

    private void dispatch(String path, String token) {
        if (RELEASE_TOKEN.equals(token)) {
            for (Integer domid : new ArrayList<>(domainWatches.keySet())) {
                if (!domainExists(domid)) {
                    List<Runnable> gone = domainWatches.remove(domid);
                    if (gone != null) {
                        gone.forEach(Runnable::run);
                    }
                }
            }
            return;
        }
        Consumer<String> callback = watches.get(token);
        if (callback != null) {
            callback.accept(path);
        }
    }

    @Override
    public void close() {
        if (registration != null) {
            registration.cancel();
            registration = null;
        }
        watches.clear();
        domainWatches.clear();
        // Closing the handle drops its watches in xenstored.
        xenStore.close();
    }
}
