package io.idts.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

/**
 * {@code fstat}, which glibc exports as a symbol only since 2.33; older glibc (e.g. Ubuntu 20.04, 2.31)
 * has it as an inline wrapper around {@code __fxstat}, so that is the fallback.
 *
 * <p>Internal API. Each binding is a separate class because {@link Native#register} fails as a whole
 * when one symbol is missing.
 */
final class Stat {

    /** {@code offsetof(struct stat, st_size)}: 48 on x86-64 and on aarch64 (asm-generic layout). */
    private static final long ST_SIZE_OFFSET = 48;
    /** At least {@code sizeof(struct stat)}: 144 on x86-64, 128 on aarch64. */
    private static final int STAT_BUFFER_SIZE = 256;
    /** {@code _STAT_VER} for {@code __fxstat}: {@code _STAT_VER_LINUX} (1) on x86-64, 0 on aarch64. */
    private static final int STAT_VER = "aarch64".equals(System.getProperty("os.arch")) ? 0 : 1;

    private enum Binding { FSTAT, FXSTAT, NONE }

    private static final Binding BINDING = select();
    /** Why neither binding registered, or {@code null}. */
    static final Throwable LOAD_FAILURE = BINDING == Binding.NONE ? Fstat.LOAD_FAILURE : null;

    private Stat() {
    }

    private static Binding select() {
        if (Fstat.LOAD_FAILURE == null) {
            return Binding.FSTAT;
        }
        return Fxstat.LOAD_FAILURE == null ? Binding.FXSTAT : Binding.NONE;
    }

    /** {@code st_size} of {@code fd}, through whichever binding this glibc has. */
    static long size(int fd) throws NativeIoException {
        return BINDING == Binding.FXSTAT ? sizeViaFxstat(fd) : sizeViaFstat(fd);
    }

    static long sizeViaFstat(int fd) throws NativeIoException {
        try (Memory stat = new Memory(STAT_BUFFER_SIZE)) {
            if (Fstat.fstat(fd, stat) != 0) {
                throw new NativeIoException("fstat", LibC.errno(), "fd " + fd);
            }
            return stat.getLong(ST_SIZE_OFFSET);
        }
    }

    static long sizeViaFxstat(int fd) throws NativeIoException {
        try (Memory stat = new Memory(STAT_BUFFER_SIZE)) {
            if (Fxstat.__fxstat(STAT_VER, fd, stat) != 0) {
                throw new NativeIoException("fstat", LibC.errno(), "fd " + fd);
            }
            return stat.getLong(ST_SIZE_OFFSET);
        }
    }

    private static Throwable register(Class<?> bindings) {
        try {
            Native.register(bindings, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    /** glibc 2.33 and later. */
    private static final class Fstat {
        static final Throwable LOAD_FAILURE = register(Fstat.class);

        static native int fstat(int fd, Memory statbuf);
    }

    /** Before glibc 2.33; still exported (as a compatibility symbol) by later versions. */
    private static final class Fxstat {
        static final Throwable LOAD_FAILURE = register(Fxstat.class);

        static native int __fxstat(int ver, int fd, Memory statbuf);
    }
}
