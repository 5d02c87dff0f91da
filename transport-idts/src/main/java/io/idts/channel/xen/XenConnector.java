package io.idts.channel.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.backend.IdtsConnection;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenEventChannel;
import io.idts.xen.XenGrantSharer;
import io.idts.xen.XenSharedPages;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The connecting side of the Xen backend's handshake: shares the region and the control page with the listening
 * domain, binds an unbound port for it, writes the request into XenStore in one transaction, and waits for the
 * listener's reply through a watch.
 */
public final class XenConnector implements IdtsBackend.PendingConnect {

    private static final AtomicLong SEQUENCE = new AtomicLong();

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

    private XenConnector(IdtsAddress remote, XenStoreWatcher watcher) {
        this.remote = remote;
        this.watcher = watcher;
        this.xenStore = watcher.xenStore();
    }

    static XenConnector start(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                              Runnable progress) throws Exception {
        XenConnector connector = new XenConnector(remote,
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
