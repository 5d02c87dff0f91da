package io.idts.linux;

import com.sun.jna.Pointer;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@code MAP_SHARED} read-write mapping of a file descriptor. The mapping stays valid after the fd is
 * closed, until {@link #close()}.
 *
 * <p>Touching the memory after {@link #close()} crashes the JVM (SIGSEGV), and so does touching pages
 * beyond the end of a file that shrank (SIGBUS): map only sealed memfds (see {@link MemFd}), and close a
 * mapping only when no buffer of it is in use.
 *
 * <p>Internal API.
 */
public final class SharedMapping implements AutoCloseable {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(SharedMapping.class);

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final long MAP_FAILED = -1;

    private final long address;
    private final int size;
    /** Kept so that buffer() need not go through JNI each time. */
    private final ByteBuffer whole;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SharedMapping(long address, int size) {
        this.address = address;
        this.size = size;
        whole = new Pointer(address).getByteBuffer(0, size).order(ByteOrder.nativeOrder());
    }

    /**
     * {@code mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)}.
     *
     * @param size at most {@link Integer#MAX_VALUE} (a ByteBuffer's limit), and at most the file's size:
     *             a larger mapping would fault on its tail
     * @throws IllegalArgumentException if {@code size} is out of range or larger than the file
     */
    public static SharedMapping map(int fd, long size) throws NativeIoException {
        ObjectUtil.checkInRange(size, 1, Integer.MAX_VALUE, "size");
        LinuxHost.ensureAvailability();
        long fileSize = Stat.size(fd);
        if (size > fileSize) {
            throw new IllegalArgumentException(
                    "size: " + size + " (expected: <= " + fileSize + ", the size of fd " + fd + ')');
        }
        long address = LibC.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (address == MAP_FAILED) {
            throw new NativeIoException("mmap", LibC.errno(), "fd " + fd + ", " + size + " bytes");
        }
        return new SharedMapping(address, (int) size);
    }

    /** Start address of the mapping. */
    public long address() {
        return address;
    }

    /** Length of the mapping in bytes. */
    public int size() {
        return size;
    }

    /**
     * A new direct ByteBuffer over the whole mapping (position 0, limit {@link #size()}, byte order
     * {@link ByteOrder#nativeOrder()}), independent of other buffers' positions. Valid until {@link #close()}.
     *
     * @throws IllegalStateException if closed
     */
    public ByteBuffer buffer() {
        if (closed.get()) {
            throw new IllegalStateException("mapping is closed");
        }
        return whole.duplicate().order(ByteOrder.nativeOrder());
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed.get();
    }

    /** {@code munmap}, once; idempotent. A failure is logged, not thrown: there is nothing to do about it. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && LibC.munmap(address, size) != 0) {
            int errno = LibC.errno();
            logger.warn("munmap(0x{}, {}) failed: {} (errno {})",
                    Long.toHexString(address), size, Errno.describe(errno), errno);
        }
    }

    @Override
    public String toString() {
        return "SharedMapping(0x" + Long.toHexString(address) + ", " + size + " bytes"
                + (closed.get() ? ", closed)" : ")");
    }
}
