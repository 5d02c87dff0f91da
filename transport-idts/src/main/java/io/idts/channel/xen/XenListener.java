package io.idts.channel.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.IdtsBackend;

import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;

import io.netty.channel.EventLoop;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The listening side of the Xen backend: publishes the service in XenStore, watches its requests, and hands each
 * new request to the acceptor's half of the handshake ({@link XenHandshake#accept}) as long as the server has room;
 * the others wait in XenStore, as a listening socket's backlog waits in the kernel. A refused request gets the
 * reason as its reply.
 */
public final class XenListener implements IdtsBackend.Listener {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenListener.class);


    /**
     * Index of {@code starttime} (field 22 of {@code /proc/<pid>/stat}, see proc(5)) among the fields that follow the
     * command name, which is field 2: the first of them is field 3.
     */
    private static final int STAT_START_TIME_AFTER_COMMAND = 22 - 3;

    private final IdtsAddress address;
    private final XenStoreWatcher watcher;
    private final XenStore xenStore;
    private final EventLoop loop;
    private final IdtsBackend.ListenerEvents events;
    private final String servicePath;
    private final String requestsPath;
    /** Requests taken in (or refused) and still in XenStore; their connectors remove them. */
    private final Set<String> seen = new HashSet<>();
    private String requestsWatch;
    private boolean paused;
    private boolean closed;

    private XenListener(IdtsAddress address, XenStoreWatcher watcher, EventLoop loop,
                        IdtsBackend.ListenerEvents events, String servicePath) {
        this.address = address;
        this.watcher = watcher;
        this.xenStore = watcher.xenStore();
        this.loop = loop;
        this.events = events;
        this.servicePath = servicePath;
        this.requestsPath = servicePath + '/' + XenBackend.REQUESTS;
    }

    static XenListener listen(IdtsAddress address, IdtsIoHandler handler, EventLoop loop,
                              IdtsBackend.ListenerEvents events) throws Exception {
        XenStoreWatcher watcher =
                handler.backendResource(XenStoreWatcher.class, () -> XenStoreWatcher.open(handler));
        int self = watcher.selfDomid();
        if (address.domid() != self) {
            throw new BindException("cannot listen on IDTS address " + address + " in domain " + self
                    + ": a server listens in its own domain only (bind to IdtsAddress.xen(" + self + ", \""
                    + address.service() + "\"))");
        }
        XenListener listener = new XenListener(address, watcher, loop, events,
                XenBackend.servicePath(watcher.xenStore(), self, address.service()));
        listener.publish(self);
        try {
            listener.requestsWatch = watcher.watch(listener.requestsPath, path -> listener.takeRequests());
        } catch (Exception e) {
            listener.close();
            throw e;
        }
        return listener;
    }

    /** Publishes the service: readable by every domain, its requests node writable (not readable) by every domain. */
    private void publish(int self) throws IOException {
        String owner = processIdentity(LinuxHost.pid());
        for (;;) {
            int tx = xenStore.transactionStart();
            try {
                String existing = xenStore.read(tx, servicePath);
                if (existing != null) {
                    if (isLiveProcess(existing)) {
                        throw new BindException("IDTS address " + address + " is already in use: another server ("
                                + "process " + existing + ") listens on it");
                    }
                    // Left by a server of this domain that died without closing: its requests are dead too.
                    xenStore.remove(tx, servicePath);
                }
                xenStore.write(tx, servicePath, owner);
                xenStore.setPermissions(tx, servicePath, XenStorePermission.of(self, XenStorePermission.READ));
                xenStore.mkdir(tx, requestsPath);
                xenStore.setPermissions(tx, requestsPath, XenStorePermission.of(self, XenStorePermission.WRITE));
            } catch (IOException | RuntimeException e) {
                XenBackend.abortQuietly(xenStore, tx);
                throw e;
            }
            if (xenStore.transactionEnd(tx, false)) {
                return;
            }
        }
    }



    /** "pid start-time": the start time tells a live server from a later process that got the same pid. */
    private static String processIdentity(int pid) {
        String start = processStartTime(pid);
        return pid + " " + (start == null ? "0" : start);
    }

    private static String processStartTime(int pid) {
        try {
            String stat = new String(Files.readAllBytes(Paths.get("/proc/" + pid + "/stat")), StandardCharsets.UTF_8);
            // The command name, in parentheses, may hold spaces: count fields after its closing parenthesis.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return fields[STAT_START_TIME_AFTER_COMMAND];
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static boolean isLiveProcess(String identity) {
        String[] parts = identity.split(" ");
        if (parts.length != 2) {
            return false;
        }
        try {
            String start = processStartTime(Integer.parseInt(parts[0]));
            return start != null && start.equals(parts[1]);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    public void resume() {
        if (paused && !closed && events.room() > 0) {
            paused = false;
            loop.execute(this::takeRequests);
        }
    }

    /** The requests node changed: takes in each new request, room permitting. */
    private void takeRequests() {
        if (closed) {
            return;
        }
        String[] ids;
        try {
            ids = xenStore.list(XenStore.NO_TRANSACTION, requestsPath);
        } catch (NativeIoException e) {
            events.failed(e);
            return;
        }
        if (ids == null) {
            return;
        }
        seen.retainAll(Arrays.asList(ids));
        for (String id : ids) {
            if (seen.contains(id)) {
                continue;
            }
            if (events.room() <= 0) {
                // The rest waits in XenStore; resume() comes back when room comes free.
                paused = true;
                return;
            }
            seen.add(id);
            takeRequest(requestsPath + '/' + id);
            if (closed) {
                return;
            }
        }
    }

    private void takeRequest(String request) {
        IdtsBackend.AcceptedConnection accepted;
        try {
            accepted = XenHandshake.accept(xenStore, watcher.selfDomid(), request);
        } catch (XenHandshake.RefusedException e) {
            logger.warn("Refused an IDTS connection to {}: {}", address, e.getMessage());
            try {
                XenHandshake.writeReply(xenStore, watcher.selfDomid(), request, e.peer(),
                        XenBackend.REPLY_REFUSED_PREFIX + e.getMessage());
            } catch (NativeIoException | RuntimeException writeFailed) {
                logger.debug("Could not reply to the refused request {}", request, writeFailed);
            }
            return;
        }
        if (accepted != null) {
            events.accepted(accepted);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (requestsWatch != null) {
            watcher.unwatch(requestsPath, requestsWatch);
            requestsWatch = null;
        }
        // Requests not taken in go with it, as a listening socket's backlog does; their connectors see the node go.
        XenBackend.removeQuietly(xenStore, servicePath);
        try {
            String services = servicePath.substring(0, servicePath.lastIndexOf('/'));
            String[] left = xenStore.list(XenStore.NO_TRANSACTION, services);
            if (left != null && left.length == 0) {
                XenBackend.removeQuietly(xenStore, services);
            }
        } catch (NativeIoException | IllegalStateException e) {
            logger.debug("Could not tidy {} in XenStore", servicePath, e);
        }
    }

}
