package io.idts.channel.ring;

import io.netty.util.internal.PlatformDependent;
import io.netty.util.internal.SystemPropertyUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;

/**
 * The JDK's {@code jdk.internal.misc.Unsafe.writebackMemory} (CLWB, CLFLUSHOPT or CLFLUSH on x86, one per line),
 * which a {@link RingReader} uses on a fast stream's slice before it gives the slice back.
 *
 * <p>Why: the producer rewrites a slice a ring's worth of bytes after the reader read it. If the reader's core group
 * still caches the slice's lines (a ring of 16 MiB fits a 32 MiB third-level cache), each of the producer's stores
 * must first invalidate that copy, a round trip between the cores that holds up the stores behind it; written back
 * when they are returned, the lines come from memory instead. On the development machine that made a one-way 1 KiB
 * stream 1.5 to 2 times as fast when the two processes ran on different core groups (docs/benchmarks.md, session 12).
 *
 * <p>Available only when {@code java.base} exports {@code jdk.internal.misc} to this class's module (JVM option
 * {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} on the class path), the CPU can write lines back
 * ({@code Unsafe.isWritebackEnabled()}) and {@code -Dio.idts.cacheLineWriteback=false} is not set; otherwise
 * {@link #ifAvailable()} is {@code null} and readers do without.
 */
final class CacheLineWriteback implements MemoryWriteback {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(CacheLineWriteback.class);
    private static final String INTERNAL_PACKAGE = "jdk.internal.misc";
    /** {@code writebackMemory(long, long)} bound to the internal Unsafe, or {@code null}. */
    private static final MethodHandle WRITEBACK_MEMORY = findWritebackMemory();
    private static final CacheLineWriteback INSTANCE = WRITEBACK_MEMORY == null ? null : new CacheLineWriteback();

    private CacheLineWriteback() {
    }

    /** The writeback, or {@code null} where this JVM cannot or may not write lines back (see the class comment). */
    static MemoryWriteback ifAvailable() {
        return INSTANCE;
    }

    @Override
    public void writeback(long address, long length) {
        try {
            WRITEBACK_MEMORY.invokeExact(address, length);
        } catch (Throwable t) {
            PlatformDependent.throwException(t);
        }
    }

    private static MethodHandle findWritebackMemory() {
        if (!SystemPropertyUtil.getBoolean("io.idts.cacheLineWriteback", true)) {
            logger.debug("-Dio.idts.cacheLineWriteback: false");
            return null;
        }
        if (!PlatformDependent.hasUnsafe()) {
            logger.debug("cache line writeback: unavailable (no direct buffer addresses without sun.misc.Unsafe)");
            return null;
        }
        if (!Object.class.getModule().isExported(INTERNAL_PACKAGE, CacheLineWriteback.class.getModule())) {
            logger.debug("cache line writeback: unavailable (java.base does not export {} to {}; add the JVM option "
                    + "--add-exports java.base/{}=ALL-UNNAMED)", INTERNAL_PACKAGE, CacheLineWriteback.class.getModule(),
                    INTERNAL_PACKAGE);
            return null;
        }
        try {
            Class<?> unsafeClass = Class.forName(INTERNAL_PACKAGE + ".Unsafe");
            Object unsafe = unsafeClass.getMethod("getUnsafe").invoke(null);
            Method enabled = unsafeClass.getMethod("isWritebackEnabled");
            if (!(Boolean) enabled.invoke(null)) {
                logger.debug("cache line writeback: unavailable (this JVM has no writeback instruction for its CPU)");
                return null;
            }
            MethodHandle handle = MethodHandles.lookup().findVirtual(unsafeClass, "writebackMemory",
                    MethodType.methodType(void.class, long.class, long.class)).bindTo(unsafe);
            logger.debug("cache line writeback: available");
            return handle;
        } catch (ReflectiveOperationException | RuntimeException e) {
            logger.debug("cache line writeback: unavailable", e);
            return null;
        }
    }
}
