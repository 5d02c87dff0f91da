package io.idts.channel;

import io.netty.channel.DefaultFileRegion;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.lang.reflect.Field;
import java.nio.channels.FileChannel;

/**
 * Reaches the file of a {@link DefaultFileRegion}, so that {@code IdtsChannel} can read it straight into the transmit
 * ring: {@code DefaultFileRegion.transferTo} to a channel that is not a socket or a file goes through a heap buffer in
 * the JDK (an extra copy). Netty's own native transports use the same fields, from inside its package. If reflection
 * is refused (modules), {@link #AVAILABLE} is false and regions go through {@code transferTo}.
 */
final class FileRegionAccess {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(FileRegionAccess.class);

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

    private FileRegionAccess() {
    }

    /** The region's file channel; call {@link DefaultFileRegion#open()} first. */
    static FileChannel file(DefaultFileRegion region) {
        try {
            return (FileChannel) FILE.get(region);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Records progress as {@code DefaultFileRegion.transferTo} does, so that {@code transferred()} stays true. */
    static void setTransferred(DefaultFileRegion region, long transferred) {
        try {
            TRANSFERRED.setLong(region, transferred);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
