package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.IdtsBackend;

import io.netty.channel.EventLoop;

/**
 * The host backend: processes of one Linux host, a sealed memfd region and one end of a notification socket pair
 * handed over the Unix-domain socket file of the rendezvous directory (see {@code docs/protocol.md}, "Host handshake").
 */
public final class HostBackend implements IdtsBackend {

    public static final HostBackend INSTANCE = new HostBackend();

    private HostBackend() {
    }

    @Override
    public IdtsAddress clientAddress(IdtsAddress remote, String service) {
        return remote.sibling(service);
    }

    @Override
    public PendingConnect connect(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                                  Runnable progress) throws Exception {
        return HostHandshake.Offer.start(remote, local, ringCapacity, handler, progress);
    }

    @Override
    public Listener listen(IdtsAddress local, IdtsIoHandler handler, EventLoop loop, ListenerEvents events)
            throws Exception {
        return HostListener.listen(local, handler, loop, events);
    }
}
