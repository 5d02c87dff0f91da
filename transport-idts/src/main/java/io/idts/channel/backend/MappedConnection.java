package io.idts.channel.backend;

import io.idts.channel.ring.RegionLayout;

import io.netty.util.ReferenceCounted;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What every backend's connection has: the mapped region, the reference count that keeps it mapped, its validated
 * layout and the side this endpoint is on. The backends add how to notify and how the peer's death is seen.
 */
public abstract class MappedConnection implements IdtsConnection {

    private final ByteBuffer region;
    private final RegionLifetime lifetime;
    private final RegionLayout layout;
    private final boolean connector;

    /** @param unmap unmaps the region when the last reference is released; must not throw */
    public MappedConnection(ByteBuffer region, AutoCloseable unmap, RegionLayout layout, boolean connector) {
        this.region = region;
        this.lifetime = new RegionLifetime(unmap);
        this.layout = layout;
        this.connector = connector;
    }

    /** A new buffer over the whole region (its own position and limit), native byte order. */
    @Override
    public final ByteBuffer region() {
        return region.duplicate().order(ByteOrder.nativeOrder());
    }

    @Override
    public final ReferenceCounted regionLifetime() {
        return lifetime;
    }

    @Override
    public final RegionLayout layout() {
        return layout;
    }

    @Override
    public final boolean isConnector() {
        return connector;
    }

    /** Drops the connection's own reference to the region: it is unmapped now, or when the last view goes. */
    protected final void releaseRegion() {
        lifetime.release();
    }
}
