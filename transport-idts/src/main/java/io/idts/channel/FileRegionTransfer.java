package io.idts.channel;

import io.idts.channel.ring.RingWriter;

import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * Moves the bytes of {@link FileRegion}s into a channel's transmit ring. A {@link DefaultFileRegion} is read from its
 * file straight into the ring (a positional read into the ring's memory: no heap buffer, no intermediate copy), which
 * needs its file: {@code DefaultFileRegion.transferTo} to a channel that is not a socket or a file goes through a heap
 * buffer in the JDK (an extra copy). Netty's own native transports use the same fields, from inside its package. If
 * reflection is refused (modules), or for any other region, the region transfers itself to this object, a
 * {@link WritableByteChannel} over the ring.
 */
final class FileRegionTransfer implements WritableByteChannel {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(FileRegionTransfer.class);

    static final boolean AVAILABLE;
    private static final Field FILE;
    private static final Field TRANSFERRED;

    static {
        Field file = null;
        Field transferred = null;
        try {
            file = DefaultFileRegion.class.getDeclaredField("file");
            transferred = DefaultFileRegion.class.getDeclaredField("transferred");
            if (file.getType() != FileChannel.class || transferred.getType() != long.class) {
                throw new NoSuchFieldException("DefaultFileRegion's fields are not as expected");
            }
            file.setAccessible(true);
            transferred.setAccessible(true);
        } catch (Throwable t) {
            logger.debug("DefaultFileRegion goes through transferTo (a heap copy): {}", t.toString());
            file = null;
            transferred = null;
        }
        FILE = file;
        TRANSFERRED = transferred;
        AVAILABLE = file != null;
    }

    private RingWriter writer;

    /** Transfers into {@code writer}'s ring from now on; {@code null} when the channel closed. */
    void attach(RingWriter writer) {
        this.writer = writer;
    }

    /**
     * Transfers the next part of {@code region} into the ring: up to the end of the free space, and at most a slice
     * for a {@link DefaultFileRegion}. Does not publish.
     *
     * @return bytes transferred, 0 when the ring is full
     */
    long transfer(FileRegion region) throws IOException {
        return region instanceof DefaultFileRegion && AVAILABLE
                ? transferFile((DefaultFileRegion) region)
                : region.transferTo(this, region.transferred());
    }

    private long transferFile(DefaultFileRegion region) throws IOException {
        long transferred = region.transferred();
        long remaining = region.count() - transferred;
        int wanted = (int) Math.min(remaining, writer.sliceSize());
        int n = Math.min(wanted, writer.contiguousWritableBytes(wanted));
        if (n == 0) {
            return 0;
        }
        if (region.refCnt() == 0) {
            throw new IllegalReferenceCountException(0);
        }
        region.open();
        ByteBuffer dst = writer.claimMemory().slice(writer.index(), n);
        int read = file(region).read(dst, region.position() + transferred);
        if (read <= 0) {
            throw new IOException("the file of " + region + " ended after " + transferred + " of the "
                    + region.count() + " bytes of the region");
        }
        writer.commit(read);
        setTransferred(region, transferred + read);
        return read;
    }

    /** A region that transfers itself writes here. */
    @Override
    public int write(ByteBuffer src) throws IOException {
        int length = src.remaining();
        if (length == 0) {
            return 0;
        }
        int written = writer.write(Unpooled.wrappedBuffer(src), 0, length);
        src.position(src.position() + written);
        return written;
    }

    @Override
    public boolean isOpen() {
        return writer != null;
    }

    @Override
    public void close() {
        // The ring belongs to the channel, which detaches it when it closes.
    }

    /** The region's file channel; call {@link DefaultFileRegion#open()} first. */
    private static FileChannel file(DefaultFileRegion region) {
        try {
            return (FileChannel) FILE.get(region);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Records progress as {@code DefaultFileRegion.transferTo} does, so that {@code transferred()} stays true. */
    private static void setTransferred(DefaultFileRegion region, long transferred) {
        try {
            TRANSFERRED.setLong(region, transferred);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
