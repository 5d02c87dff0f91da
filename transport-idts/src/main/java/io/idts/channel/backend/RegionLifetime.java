package io.idts.channel.backend;

import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;

/**
 * Keeps a connection's mapping alive while anything may still touch it: the connection holds one reference (dropped
 * when it closes), and every zero-copy view of a ring and every open transmit claim holds one more. The mapping is
 * unmapped by whoever drops the last reference: the event loop when the channel closes with no view outstanding,
 * otherwise the thread that releases the last view. Reference counting is lock-free (Netty's
 * {@link AbstractReferenceCounted}).
 */
public final class RegionLifetime extends AbstractReferenceCounted {

    private final AutoCloseable mapping;

    /** {@code mapping}'s {@code close()} unmaps the region; it must not throw. */
    RegionLifetime(AutoCloseable mapping) {
        this.mapping = mapping;
    }

    @Override
    protected void deallocate() {
        try {
            mapping.close();
        } catch (Exception e) {
            // The host and Xen mappings never throw from close(); nothing more can be done here anyway.
            throw new IllegalStateException("could not unmap " + mapping, e);
        }
    }

    @Override
    public ReferenceCounted touch(Object hint) {
        return this;
    }

    @Override
    public String toString() {
        return "RegionLifetime(" + mapping + ", refCnt " + refCnt() + ')';
    }
}
