package io.idts.xen;

import io.idts.linux.NativeIoException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Availability on a machine without Xen (these tests are skipped inside a Xen domain). */
class XenHostTest {

    private static void assumeNoXen() {
        assumeFalse(Files.exists(Paths.get(XenHost.GNTDEV)), "this machine has Xen devices");
    }

    @Test
    void unavailableWithoutXenNamesTheMissingDevice() {
        assumeNoXen();
        assertFalse(XenHost.isAvailable());
        Throwable cause = XenHost.unavailabilityCause();
        assertInstanceOf(UnsupportedOperationException.class, cause);
        assertTrue(cause.getMessage().contains("/dev/xen/gntdev"), cause.getMessage());
        UnsatisfiedLinkError error = assertThrows(UnsatisfiedLinkError.class, XenHost::ensureAvailability);
        assertTrue(error.getMessage().contains("/dev/xen/gntdev"), error.getMessage());
        assertSame(cause, error.getCause());
    }

    @Test
    void entryPointsThrowTheAvailabilityErrorAndLoadNoXenLibrary() throws IOException {
        assumeNoXen();
        assertThrows(UnsatisfiedLinkError.class, XenGrantSharer::open);
        assertThrows(UnsatisfiedLinkError.class, XenGrantMapper::open);
        assertThrows(UnsatisfiedLinkError.class, XenEventChannel::open);
        UnsatisfiedLinkError error = assertThrows(UnsatisfiedLinkError.class, XenStore::open);
        assertTrue(error.getMessage().startsWith("the IDTS Xen primitives are unavailable: "), error.getMessage());
        String maps = Files.readString(Paths.get("/proc/self/maps"));
        assertFalse(maps.contains("libxen"), "a Xen library was loaded");
    }

    @Test
    void everyMissingDeviceIsNamed(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("dev/xen"));
        Files.createFile(root.resolve("dev/xen/gntdev"));
        String message = XenHost.deviceCause(root).getMessage();
        assertFalse(message.contains("/dev/xen/gntdev,"), message);
        for (String device : new String[] {"/dev/xen/gntalloc", "/dev/xen/evtchn",
                "/dev/xen/xenbus or /proc/xen/xenbus"}) {
            assertTrue(message.contains(device), message);
        }
        assertTrue(message.contains("xen-gntalloc"), "hint at the kernel modules: " + message);
    }

    @Test
    void noXenAtAllIsSaidSo(@TempDir Path root) {
        String message = XenHost.deviceCause(root).getMessage();
        assertTrue(message.contains("/dev/xen/gntdev"), message);
        assertTrue(message.contains("not a Xen domain"), message);
    }

    @Test
    void allDevicesPresentPassTheDeviceCheck(@TempDir Path root) throws IOException {
        Files.createDirectories(root.resolve("dev/xen"));
        Files.createDirectories(root.resolve("proc/xen"));
        for (String device : new String[] {"dev/xen/gntdev", "dev/xen/gntalloc", "dev/xen/evtchn", "proc/xen/xenbus"}) {
            Files.createFile(root.resolve(device));
        }
        assertNull(XenHost.deviceCause(root));
    }

    /** A binding whose library does not exist. */
    static final class MissingLibrary {
        static native int idts_no_such_function();
    }

    @Test
    void aMissingLibraryIsNamedNotThrown() {
        Throwable cause = XenNative.register(MissingLibrary.class, "libxen-idts-missing.so.1", "libxen-idts-missing.so.0");
        assertInstanceOf(UnsatisfiedLinkError.class, cause);
        assertTrue(cause.getMessage().contains("libxen-idts-missing.so.1 or libxen-idts-missing.so.0"),
                cause.getMessage());
    }

    @Test
    void nativeIoExceptionNamesTheCall() {
        NativeIoException e = new NativeIoException("xengnttab_map_grant_refs", 22, "1 grants of domain 0");
        assertTrue(e.getMessage().startsWith("xengnttab_map_grant_refs failed: "), e.getMessage());
    }
}
