package io.idts.channel.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.backend.IdtsConnection;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenEventChannel;
import io.idts.xen.XenGrantMapper;
import io.idts.xen.XenGrantSharer;
import io.idts.xen.XenMappedGrants;
import io.idts.xen.XenSharedPages;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Xen backend's connect handshake, its two halves side by side (see {@code docs/protocol.md}, "Xen connect
 * handshake"). The connector's, {@link Offer}: shares the region and the control page with the listening domain,
 * binds an unbound port for it, writes the request into XenStore in one transaction, and waits for the listener's
 * reply through a watch. The acceptor's, {@link #accept}: reads and checks the request, binds the port, maps the
 * pages, and replies ({@link #writeReply}). {@link XenListener} finds the requests and hands them to {@link #accept}.
 */
public final class XenHandshake {

    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final int MIN_PAGES = (int) (RegionLayout.regionSize(
            RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY) / XenControlPage.PAGE_SIZE);
    private static final int MAX_PAGES = (int) (RegionLayout.regionSize(
            RegionLayout.MAX_RING_CAPACITY, RegionLayout.MAX_RING_CAPACITY) / XenControlPage.PAGE_SIZE);

    private XenHandshake() {
    }

    /** The connector's half: an offer made, waiting for the listener's reply. */
    public static final class Offer implements IdtsBackend.PendingConnect {

        private final IdtsAddress remote;
        private final XenStoreWatcher watcher;
        private final XenStore xenStore;
        private XenEventChannel eventChannel;
        private int localPort = -1;
        private XenGrantSharer sharer;
        private XenSharedPages region;
        /** The list pages: the region's grant references, for the listener to read once. */
        private XenSharedPages lists;
        private XenSharedPages control;
        private RegionLayout layout;
        private String requestPath;
        private String replyWatch;

        private Offer(IdtsAddress remote, XenStoreWatcher watcher) {
            this.remote = remote;
            this.watcher = watcher;
            this.xenStore = watcher.xenStore();
        }

        static Offer start(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                                  Runnable progress) throws Exception {
            Offer connector = new Offer(remote,
                    handler.backendResource(XenStoreWatcher.class, () -> XenStoreWatcher.open(handler)));
            boolean success = false;
            try {
                connector.offer(local, ringCapacity, progress);
                success = true;
                return connector;
            } finally {
                if (!success) {
                    connector.close();
                }
            }
        }

        private void offer(IdtsAddress local, int ringCapacity, Runnable progress) throws IOException {
            int listener = remote.domid();
            int self = watcher.selfDomid();
            String service = XenBackend.servicePath(xenStore, listener, remote.service());
            String published;
            try {
                published = xenStore.read(XenStore.NO_TRANSACTION, service);
            } catch (NativeIoException e) {
                throw connectFailed("its XenStore node " + service + " is not readable from domain " + self, e);
            }
            if (published == null) {
                throw new ConnectException("connection refused: nobody listens on IDTS address " + remote
                        + " (no XenStore node " + service + "; start the server in domain " + listener + " first)");
            }
            try {
                eventChannel = XenEventChannel.open();
                localPort = eventChannel.bindUnboundPort(listener);
                sharer = XenGrantSharer.open();
            } catch (NativeIoException e) {
                throw connectFailed("could not set up an event channel and grants for domain " + listener, e);
            }
            int regionPages = (int) (RegionLayout.regionSize(ringCapacity, ringCapacity) / XenControlPage.PAGE_SIZE);
            int listPages = XenControlPage.listPages(regionPages);
            try {
                region = sharer.share(listener, regionPages, true);
                lists = sharer.share(listener, listPages, false);
                control = sharer.sharePageWithNotify(listener, true, XenControlPage.CONNECTOR_ALIVE_OFFSET, localPort);
            } catch (NativeIoException e) {
                throw connectFailed("could not share " + (regionPages + listPages + 1) + " pages with domain " + listener
                        + " (rings of " + ringCapacity + " bytes; every ring page is a grant: use a smaller "
                        + "IdtsChannelOption.RING_CAPACITY, or raise xen-gntalloc's 'limit' module parameter and the "
                        + "domain's grant table size, max_grant_frames)", e);
            }
            layout = RegionLayout.initialize(region.buffer(), ringCapacity, ringCapacity);
            ByteBuffer controlBuffer = control.buffer();
            XenControlPage.write(controlBuffer, lists.buffer(), region.refs(), lists.refs());
            controlBuffer.put(XenControlPage.CONNECTOR_ALIVE_OFFSET, XenControlPage.ALIVE);

            String request = service + '/' + XenBackend.REQUESTS + '/'
                    + XenBackend.requestId(self, SEQUENCE.incrementAndGet());
            XenStorePermission[] permissions = XenBackend.requestPermissions(self, listener);
            String[][] nodes = {
                    {XenBackend.CTRL_REF, Integer.toUnsignedString(control.ref(0))},
                    {XenBackend.EVENT_CHANNEL, Integer.toString(localPort)},
                    {XenBackend.NAME, local.service()},
            };
            try {
                writeRequest(request, permissions, nodes, self);
                requestPath = request;
                replyWatch = watcher.watch(request + '/' + XenBackend.REPLY, path -> progress.run());
            } catch (NativeIoException e) {
                throw connectFailed("could not write the connection request " + request + " into XenStore", e);
            }
        }

        private void writeRequest(String request, XenStorePermission[] permissions, String[][] nodes, int self)
                throws IOException {
            for (;;) {
                int tx = xenStore.transactionStart();
                try {
                    // The request node first, so that its children inherit the connector-only permissions even before
                    // they are set on each of them.
                    xenStore.mkdir(tx, request);
                    xenStore.setPermissions(tx, request, permissions);
                    for (String[] node : nodes) {
                        xenStore.write(tx, request + '/' + node[0], node[1]);
                        xenStore.setPermissions(tx, request + '/' + node[0], permissions);
                    }
                } catch (NativeIoException e) {
                    xenStore.transactionEnd(tx, true);
                    if (e.errno() == Errno.EACCES || e.errno() == Errno.ENOENT) {
                        ConnectException refused = new ConnectException("connection refused: IDTS address " + remote
                                + " does not take requests from domain " + self + " (" + e.getMessage() + ")");
                        refused.initCause(e);
                        throw refused;
                    }
                    throw e;
                }
                if (xenStore.transactionEnd(tx, false)) {
                    return;
                }
                // EAGAIN: another transaction touched the same nodes; do it again.
            }
        }

        private ConnectException connectFailed(String what, NativeIoException cause) {
            ConnectException failed = new ConnectException("cannot connect to IDTS address " + remote + ": " + what
                    + ": " + cause.getMessage());
            failed.initCause(cause);
            return failed;
        }

        @Override
        public IdtsConnection finish() throws IOException {
            if (requestPath == null) {
                return null;
            }
            String reply = xenStore.read(XenStore.NO_TRANSACTION, requestPath + '/' + XenBackend.REPLY);
            if (reply == null) {
                if (xenStore.read(XenStore.NO_TRANSACTION, requestPath + '/' + XenBackend.NAME) == null) {
                    throw new ConnectException("the server at IDTS address " + remote
                            + " closed during the handshake (its XenStore node is gone)");
                }
                return null;
            }
            if (!XenBackend.REPLY_ACCEPTED.equals(reply)) {
                // The listener is another domain: keep what it says short before it goes into a message.
                String said = reply.length() > XenBackend.MAX_REPLY_CHARS
                        ? reply.substring(0, XenBackend.MAX_REPLY_CHARS) + "..." : reply;
                throw new ConnectException("connection to IDTS address " + remote + " refused: " + said);
            }
            stopWatching();
            // The listener has mapped everything; the request and the list pages have served their purpose.
            XenBackend.removeQuietly(xenStore, requestPath);
            requestPath = null;
            lists.close();
            lists = null;
            XenSharedPages regionPages = region;
            XenGrantSharer regionSharer = sharer;
            XenConnection connection = new XenConnection(region.buffer(), () -> {
                regionPages.close();
                regionSharer.close();
            }, layout, true, remote.domid(), eventChannel, localPort, control, control.buffer(), null, xenStore);
            // The connection owns them now.
            region = null;
            sharer = null;
            control = null;
            eventChannel = null;
            return connection;
        }

        private void stopWatching() {
            if (replyWatch != null) {
                watcher.unwatch(requestPath + '/' + XenBackend.REPLY, replyWatch);
                replyWatch = null;
            }
        }

        @Override
        public void close() {
            if (requestPath != null) {
                stopWatching();
                XenBackend.removeQuietly(xenStore, requestPath);
                requestPath = null;
            }
            // The control page first: the listener hears that we are gone while our port is still bound.
            if (control != null) {
                control.close();
                control = null;
            }
            if (eventChannel != null) {
                eventChannel.close();
                eventChannel = null;
            }
            if (lists != null) {
                lists.close();
                lists = null;
            }
            if (region != null) {
                region.close();
                region = null;
            }
            if (sharer != null) {
                sharer.close();
                sharer = null;
            }
        }
    }

    /**
     * The acceptor's half: reads and checks the request at {@code request} (every value read once, checked, then
     * used: the connector can still write the control page) and maps what it offers.
     *
     * @param self this domain, the acceptor's
     * @return the connection, replied to by its {@code confirm()}, or {@code null} if the request went away meanwhile
     * @throws RefusedException if the request is not acceptable; the caller replies with its message
     */
    static IdtsBackend.AcceptedConnection accept(XenStore xenStore, int self, String request)
            throws RefusedException {
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
            int controlRef = parseRef(read(xenStore, request, XenBackend.CTRL_REF), XenBackend.CTRL_REF);
            int remotePort = parseNumber(read(xenStore, request, XenBackend.EVENT_CHANNEL), XenBackend.EVENT_CHANNEL);
            String name = read(xenStore, request, XenBackend.NAME);
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
            return new XenAcceptedConnection(connection, IdtsAddress.xen(peer, name), xenStore, self, request);
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

    private static String read(XenStore xenStore, String request, String node)
            throws NativeIoException, RefusedException {
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

    /**
     * The acceptor writes the reply into {@code request}, readable by {@code peer} ({@code -1}: not known), unless the connector
     * removed the request meanwhile (a write would make it again): then it returns {@code false}. The reply node is
     * made readable explicitly: a node an unprivileged domain creates is its own, and would not be readable by the
     * connector otherwise.
     */
    static boolean writeReply(XenStore xenStore, int self, String request, int peer, String reply)
            throws NativeIoException {
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
                XenBackend.abortQuietly(xenStore, tx);
                throw e;
            }
            if (xenStore.transactionEnd(tx, false)) {
                return true;
            }
        }
    }

    /** A request the acceptor refuses; the message goes back to the connector. */
    static final class RefusedException extends Exception {
        private static final long serialVersionUID = 1L;

        /** The connector's domain, once known. */
        private int peer = -1;

        /** The connector's domain, or {@code -1} if it was not known when the request was refused. */
        int peer() {
            return peer;
        }

        RefusedException(String message) {
            super(message, null, false, false);
        }
    }

    /** A request taken in, replied to by {@link #confirm()}. */
    private static final class XenAcceptedConnection extends IdtsBackend.AcceptedConnection {
        private final XenConnection connection;
        private final XenStore xenStore;
        private final int self;
        private final String request;

        XenAcceptedConnection(XenConnection connection, IdtsAddress peerAddress, XenStore xenStore, int self,
                              String request) {
            super(connection, peerAddress);
            this.connection = connection;
            this.xenStore = xenStore;
            this.self = self;
            this.request = request;
        }

        @Override
        public void confirm() throws IOException {
            if (!writeReply(xenStore, self, request, connection.peerDomid(), XenBackend.REPLY_ACCEPTED)) {
                throw new IOException("the connector in domain " + connection.peerDomid()
                        + " gave up before its connection was accepted");
            }
        }
    }
}
