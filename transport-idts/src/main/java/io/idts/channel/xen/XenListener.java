package io.idts.channel.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenEventChannel;
import io.idts.xen.XenGrantMapper;
import io.idts.xen.XenMappedGrants;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;
import io.netty.channel.EventLoop;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The accepting side of the Xen backend: publishes the service in XenStore, watches its requests, and takes each
 * request in, as long as the server has room: maps the region and the control page the connector shared, binds the
 * connector's port, checks the region, and replies in XenStore once the child channel is open.
 *
 * <p>Everything in a request comes from another domain and is checked before use: the owner of the request node
 * (which xenstored sets, and an unprivileged domain cannot change) is the peer's domain; the references, port and
 * name are parsed strictly and bounded; the mapped region is validated as the host backend validates it.
 */
public final class XenListener implements IdtsBackend.Listener {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenListener.class);

    private static final int MIN_PAGES = (int) (RegionLayout.regionSize(
            RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY) / XenControlPage.PAGE_SIZE);
    private static final int MAX_PAGES = (int) (RegionLayout.regionSize(
            RegionLayout.MAX_RING_CAPACITY, RegionLayout.MAX_RING_CAPACITY) / XenControlPage.PAGE_SIZE);

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
                abortQuietly(tx);
                throw e;
            }
            if (xenStore.transactionEnd(tx, false)) {
                return;
            }
        }
    }

    private void abortQuietly(int tx) {
        try {
            xenStore.transactionEnd(tx, true);
        } catch (NativeIoException | RuntimeException e) {
            logger.debug("Could not abort XenStore transaction {}", tx, e);
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
        XenAcceptedConnection accepted;
        try {
            accepted = map(request);
        } catch (RefusedException e) {
            logger.warn("Refused an IDTS connection to {}: {}", address, e.getMessage());
            try {
                writeReply(request, e.peer, XenBackend.REPLY_REFUSED_PREFIX + e.getMessage());
            } catch (NativeIoException | RuntimeException writeFailed) {
                logger.debug("Could not reply to the refused request {}", request, writeFailed);
            }
            return;
        }
        if (accepted != null) {
            events.accepted(accepted);
        }
    }

    /**
     * Writes the reply into {@code request}, readable by {@code peer} ({@code -1}: not known), unless the connector
     * removed the request meanwhile (a write would make it again): then it returns {@code false}. The reply node is
     * made readable explicitly: a node an unprivileged domain creates is its own, and would not be readable by the
     * connector otherwise.
     */
    private boolean writeReply(String request, int peer, String reply) throws NativeIoException {
        int self = watcher.selfDomid();
        XenStorePermission[] readable = peer < 0 || peer == self
                ? new XenStorePermission[] {XenStorePermission.of(self, XenStorePermission.NONE)}
                : new XenStorePermission[] {XenStorePermission.of(self, XenStorePermission.NONE),
                        XenStorePermission.of(peer, XenStorePermission.READ)};
        String node = request + '/' + XenBackend.REPLY;
        for (;;) {
            int tx = xenStore.transactionStart();
            try {
                if (xenStore.read(tx, request + '/' + XenBackend.NAME) == null) {
                    xenStore.transactionEnd(tx, true);
                    return false;
                }
                xenStore.write(tx, node, reply);
                xenStore.setPermissions(tx, node, readable);
            } catch (NativeIoException | RuntimeException e) {
                abortQuietly(tx);
                throw e;
            }
            if (xenStore.transactionEnd(tx, false)) {
                return true;
            }
        }
    }

    /**
     * Reads and checks a request and maps what it offers.
     *
     * @return the connection, or {@code null} if the request went away meanwhile
     */
    private XenAcceptedConnection map(String request) throws RefusedException {
        XenEventChannel eventChannel = null;
        XenGrantMapper mapper = null;
        XenMappedGrants region = null;
        XenMappedGrants control = null;
        boolean success = false;
        int peer = -1;
        try {
            XenStorePermission[] permissions;
            try {
                permissions = xenStore.permissions(XenStore.NO_TRANSACTION, request);
            } catch (NativeIoException e) {
                if (e.errno() == Errno.ENOENT) {
                    return null; // the connector gave up meanwhile
                }
                throw e;
            }
            peer = permissions[0].domid();
            int controlRef = parseRef(read(request, XenBackend.CTRL_REF), XenBackend.CTRL_REF);
            int remotePort = parseNumber(read(request, XenBackend.EVENT_CHANNEL), XenBackend.EVENT_CHANNEL);
            String name = read(request, XenBackend.NAME);
            if (!IdtsAddress.isValidService(name)) {
                throw new RefusedException("invalid service name in " + XenBackend.NAME);
            }

            eventChannel = XenEventChannel.open();
            int localPort = eventChannel.bindInterdomain(peer, remotePort);
            mapper = XenGrantMapper.open();
            control = mapper.mapWithNotify(peer, controlRef, true, XenControlPage.ACCEPTOR_ALIVE_OFFSET, localPort);
            ByteBuffer controlBuffer = control.buffer();
            int[] refs;
            try {
                // Read once, checked, then used: the connector can still write the control page.
                int regionPages = XenControlPage.readRegionPages(controlBuffer, MIN_PAGES, MAX_PAGES);
                int[] listRefs = XenControlPage.readListRefs(controlBuffer, regionPages);
                try (XenMappedGrants lists = mapper.map(peer, listRefs, false)) {
                    refs = XenControlPage.readRegionRefs(lists.buffer(), regionPages);
                }
            } catch (IdtsProtocolException e) {
                throw new RefusedException(e.getMessage());
            }
            region = mapper.map(peer, refs, true);
            ByteBuffer regionBuffer = region.buffer();
            RegionLayout layout;
            try {
                layout = RegionLayout.validate(regionBuffer);
            } catch (IdtsProtocolException e) {
                throw new RefusedException(e.getMessage());
            }
            if (controlBuffer.get(XenControlPage.CONNECTOR_ALIVE_OFFSET) != XenControlPage.ALIVE) {
                throw new RefusedException("the connector's alive byte is not set in the control page");
            }
            controlBuffer.put(XenControlPage.ACCEPTOR_ALIVE_OFFSET, XenControlPage.ALIVE);
            XenMappedGrants regionPages = region;
            XenGrantMapper regionMapper = mapper;
            XenConnection connection = new XenConnection(regionBuffer, () -> {
                regionPages.close();
                regionMapper.close();
            }, layout, false, peer, eventChannel, localPort, control, controlBuffer, request, xenStore);
            success = true;
            return new XenAcceptedConnection(connection, IdtsAddress.xen(peer, name), request);
        } catch (NativeIoException e) {
            // A reference that is not granted to us, a port that is not offered to us: the connector's mistake.
            RefusedException refused = new RefusedException(e.getMessage());
            refused.peer = peer;
            throw refused;
        } catch (RefusedException e) {
            e.peer = peer;
            throw e;
        } finally {
            if (!success) {
                if (control != null) {
                    control.close();
                }
                if (eventChannel != null) {
                    eventChannel.close();
                }
                if (region != null) {
                    region.close();
                }
                if (mapper != null) {
                    mapper.close();
                }
            }
        }
    }

    private String read(String request, String node) throws NativeIoException, RefusedException {
        String value = xenStore.read(XenStore.NO_TRANSACTION, request + '/' + node);
        if (value == null) {
            throw new RefusedException("the request has no " + node);
        }
        return value;
    }

    private static int parseRef(String text, String node) throws RefusedException {
        try {
            return Integer.parseUnsignedInt(text);
        } catch (NumberFormatException e) {
            throw new RefusedException(node + " is not a grant reference");
        }
    }

    private static int parseNumber(String text, String node) throws RefusedException {
        try {
            int value = Integer.parseInt(text);
            if (value <= 0) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new RefusedException(node + " is not a port number");
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

    /** A request this side refuses; the message goes back to the connector. */
    private static final class RefusedException extends Exception {
        private static final long serialVersionUID = 1L;

        /** The connector's domain, once known. */
        int peer = -1;

        RefusedException(String message) {
            super(message, null, false, false);
        }
    }

    /** A request taken in, replied to by {@link #confirm()}. */
    private final class XenAcceptedConnection extends IdtsBackend.AcceptedConnection {
        private final XenConnection connection;
        private final String request;

        XenAcceptedConnection(XenConnection connection, IdtsAddress peerAddress, String request) {
            super(connection, peerAddress);
            this.connection = connection;
            this.request = request;
        }

        @Override
        public void confirm() throws IOException {
            if (!writeReply(request, connection.peerDomid(), XenBackend.REPLY_ACCEPTED)) {
                throw new IOException("the connector in domain " + connection.peerDomid()
                        + " gave up before its connection was accepted");
            }
        }
    }
}
