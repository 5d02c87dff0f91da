package io.idts.xen;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Helpers shared by the Xen library bindings: registration by soname that reports instead of throwing,
 * errno, and direct buffers over native memory.
 *
 * <p>Internal API. Each library is bound in its own class ({@link GntLib}, {@link EvtchnLib}, {@link XsLib},
 * {@link XenLibC}) whose static initializer registers it: a library is therefore loaded only when its class
 * is first initialized, which {@link XenHost} does only after it found the Xen devices. Pointers are passed
 * as Java {@code long} (LP64 only, which {@link XenHost} requires), so that the public classes never name a
 * JNA type and can be loaded, and their arguments checked, without JNA.
 */
final class XenNative {

    private XenNative() {
    }

    /**
     * Registers the native methods of {@code binding} from the first of {@code sonames} that loads.
     *
     * @return {@code null}, or an {@link UnsatisfiedLinkError} that names the sonames tried
     */
    static Throwable register(Class<?> binding, String... sonames) {
        Throwable last = null;
        for (String soname : sonames) {
            try {
                Native.register(binding, NativeLibrary.getInstance(soname));
                return null;
            } catch (Throwable t) {
                last = t;
            }
        }
        String tried = String.join(" or ", sonames);
        UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                "cannot load " + tried + " or bind its functions (install the Xen runtime libraries, Debian: "
                        + "libxengnttab1, libxenevtchn1, libxenstore4): " + last);
        error.initCause(last);
        return error;
    }

    /** errno of this thread's last native call through JNA. */
    static int errno() {
        return Native.getLastError();
    }

    /** A direct buffer of {@code size} bytes at {@code address}, in native byte order. */
    static ByteBuffer buffer(long address, int size) {
        return new Pointer(address).getByteBuffer(0, size).order(ByteOrder.nativeOrder());
    }

    /** The NUL-terminated string at {@code address}, as UTF-8. */
    static String string(long address) {
        return new Pointer(address).getString(0, "UTF-8");
    }

    /** {@code length} bytes at {@code address}. */
    static byte[] bytes(long address, int length) {
        return new Pointer(address).getByteArray(0, length);
    }

    /** Reads the pointer at {@code address + offset}. */
    static long pointerAt(long address, long offset) {
        return Pointer.nativeValue(new Pointer(address).getPointer(offset));
    }
}
