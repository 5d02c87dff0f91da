package io.idts.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The libc functions this package calls, bound with JNA direct mapping ({@link Native#register}) because
 * it is several times faster than interface mapping and allocation-free for primitive arguments.
 *
 * <p>Internal API. Functions report failure through their return value; the caller then reads
 * {@link #errno()} at once, before any other native call can overwrite it. No function is declared with
 * {@code throws LastErrorException}: that would build an exception, with its stack trace, for every
 * expected {@code EAGAIN}.
 *
 * <p>Pointer-sized values are passed as Java {@code long} where that is simpler (mmap/munmap): correct on
 * LP64 only, which {@link LinuxHost} requires. Strings go in as NUL-terminated UTF-8 {@code byte[]}, so
 * JNA's platform-dependent default encoding never applies.
 *
 * <p>Buffers that callers allocate are declared as {@link Memory}, not {@link Pointer}: passing a Memory
 * where a Pointer is declared makes the bytecode verifier load JNA's classes when the calling class is
 * linked, so a missing JNA jar would fail there instead of in {@link LinuxHost}'s probe.
 */
final class LibC {

    /** Why the registration failed, or {@code null}. Never thrown here: loading callers must not fail. */
    static final Throwable LOAD_FAILURE = register();

    private LibC() {
    }

    private static Throwable register() {
        try {
            Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    static boolean isLoaded() {
        return LOAD_FAILURE == null;
    }

    /** errno of this thread's last native call through JNA. */
    static int errno() {
        return Native.getLastError();
    }

    /** {@code s} as a NUL-terminated UTF-8 C string. */
    static byte[] cString(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(utf8, utf8.length + 1);
    }

    static native int getpid();

    static native int getuid();

    static native String strerror(int errnum);

    static native int close(int fd);

    /** The variadic argument is passed as a full register ({@code long}), as glibc reads it. */
    static native int fcntl(int fd, int cmd, long arg);

    static native int ftruncate(int fd, long length);

    /** Declared with its {@code mode} argument, which glibc reads only with {@code O_CREAT} or {@code O_TMPFILE}. */
    static native int open(byte[] path, int flags, int mode);

    static native int flock(int fd, int operation);

    static native long readlink(byte[] path, byte[] buf, long bufsiz);

    static native int memfd_create(byte[] name, int flags);

    /** Returns the address, or {@code MAP_FAILED} (-1). */
    static native long mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    static native int munmap(long addr, long length);

    static native int eventfd(int initval, int flags);

    static native int eventfd_read(int fd, Memory value);

    static native int eventfd_write(int fd, long value);

    static native int socket(int domain, int type, int protocol);

    static native int bind(int fd, byte[] addr, int addrlen);

    static native int listen(int fd, int backlog);

    static native int connect(int fd, byte[] addr, int addrlen);

    static native int accept4(int fd, Pointer addr, Pointer addrlen, int flags);

    static native int socketpair(int domain, int type, int protocol, int[] sv);

    static native long send(int fd, Memory buf, long len, int flags);

    static native long recv(int fd, Memory buf, long len, int flags);

    static native long sendmsg(int fd, Memory msg, int flags);

    static native long recvmsg(int fd, Memory msg, int flags);

    static native int getsockopt(int fd, int level, int optname, Memory optval, Pointer optlen);
}
