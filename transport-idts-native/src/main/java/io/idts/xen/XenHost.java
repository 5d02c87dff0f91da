package io.idts.xen;

import io.idts.linux.NativeIoException;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Whether the Xen primitives of the IDTS Xen backend (grant sharing and mapping, event channels, XenStore)
 * work in this process: probed once, when this class is first used, never throwing from that probe.
 *
 * <p>The probe looks for the devices first ({@code /dev/xen/gntdev}, {@code /dev/xen/gntalloc},
 * {@code /dev/xen/evtchn}, and {@code /dev/xen/xenbus} or {@code /proc/xen/xenbus}); only when they all
 * exist does it load {@code libxengnttab.so.1}, {@code libxenevtchn.so.1} and {@code libxenstore.so.4}
 * and open (and close) a handle of each grant and event-channel kind. On a machine without Xen no Xen
 * library is ever loaded. XenStore is not contacted by the probe (a request to a XenStore daemon that
 * is not running would block); {@link XenStore#open()} reports that.
 *
 * <p>Internal API.
 */
public final class XenHost {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenHost.class);

    private static final Set<String> SUPPORTED_ARCHITECTURES = Set.of("amd64", "x86_64", "aarch64");

    /** The grant-mapping device (xen-gntdev module). */
    public static final String GNTDEV = "/dev/xen/gntdev";
    /** The grant-sharing device (xen-gntalloc module). */
    public static final String GNTALLOC = "/dev/xen/gntalloc";
    /** The event-channel device (xen-evtchn module). */
    public static final String EVTCHN = "/dev/xen/evtchn";
    /** The XenStore device of recent kernels. */
    public static final String XENBUS = "/dev/xen/xenbus";
    /** The XenStore device of xenfs, mounted on /proc/xen. */
    public static final String PROC_XENBUS = "/proc/xen/xenbus";

    private static final Throwable UNAVAILABILITY_CAUSE = probe();

    private XenHost() {
    }

    private static Throwable probe() {
        Throwable cause;
        try {
            cause = probeOrCause(Paths.get("/"));
        } catch (Throwable t) {
            cause = t;
        }
        if (cause == null) {
            logger.debug("IDTS Xen primitives are available");
        } else {
            logger.debug("IDTS Xen primitives are unavailable", cause);
        }
        return cause;
    }

    /** The probe, with the devices looked up under {@code root} (tests use a fake root). */
    static Throwable probeOrCause(Path root) {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return new UnsupportedOperationException(
                    "the IDTS Xen backend needs Linux, but os.name is '" + os + "'");
        }
        String arch = System.getProperty("os.arch", "");
        if (!SUPPORTED_ARCHITECTURES.contains(arch)) {
            return new UnsupportedOperationException(
                    "the IDTS Xen backend supports x86-64 and aarch64, but os.arch is '" + arch + "'");
        }
        Throwable devices = deviceCause(root);
        if (devices != null) {
            return devices;
        }
        Throwable libraries = libraryCause();
        if (libraries != null) {
            return libraries;
        }
        return handleCause();
    }

    /** {@code null} if every device exists and is readable and writable; otherwise what is missing. */
    static Throwable deviceCause(Path root) {
        List<String> missing = new ArrayList<>();
        List<String> denied = new ArrayList<>();
        for (String device : new String[] {GNTDEV, GNTALLOC, EVTCHN}) {
            check(root, device, missing, denied);
        }
        Path xenbus = resolve(root, XENBUS);
        Path procXenbus = resolve(root, PROC_XENBUS);
        if (Files.exists(xenbus)) {
            check(root, XENBUS, missing, denied);
        } else if (Files.exists(procXenbus)) {
            check(root, PROC_XENBUS, missing, denied);
        } else {
            missing.add(XENBUS + " or " + PROC_XENBUS);
        }
        if (!missing.isEmpty()) {
            boolean noXen = !Files.exists(resolve(root, "/dev/xen")) && !Files.exists(resolve(root, "/proc/xen"));
            return new UnsupportedOperationException("the IDTS Xen backend needs " + String.join(", ", missing)
                    + (missing.size() == 1 ? ", which does not exist" : ", which do not exist")
                    + (noXen ? " (neither /dev/xen nor /proc/xen exists: this is not a Xen domain)"
                             : " (load the kernel modules xen-gntdev, xen-gntalloc, xen-evtchn, and mount "
                               + "xenfs on /proc/xen)"));
        }
        if (!denied.isEmpty()) {
            return new UnsupportedOperationException("the IDTS Xen backend needs read and write access to "
                    + String.join(", ", denied) + ", which this process does not have");
        }
        return null;
    }

    private static Path resolve(Path root, String device) {
        return root.resolve(device.substring(1));
    }

    private static void check(Path root, String device, List<String> missing, List<String> denied) {
        Path path = resolve(root, device);
        if (!Files.exists(path)) {
            missing.add(device);
        } else if (!Files.isReadable(path) || !Files.isWritable(path)) {
            denied.add(device);
        }
    }

    private static Throwable libraryCause() {
        if (GntLib.LOAD_FAILURE != null) {
            return GntLib.LOAD_FAILURE;
        }
        if (EvtchnLib.LOAD_FAILURE != null) {
            return EvtchnLib.LOAD_FAILURE;
        }
        if (XsLib.LOAD_FAILURE != null) {
            return XsLib.LOAD_FAILURE;
        }
        if (XenLibC.LOAD_FAILURE != null) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                    "JNA cannot load libc or bind free/poll: " + XenLibC.LOAD_FAILURE);
            error.initCause(XenLibC.LOAD_FAILURE);
            return error;
        }
        return null;
    }

    private static Throwable handleCause() {
        long gntshr = GntLib.xengntshr_open(0, 0);
        if (gntshr == 0) {
            return new NativeIoException("xengntshr_open", XenNative.errno(), GNTALLOC);
        }
        GntLib.xengntshr_close(gntshr);
        long gnttab = GntLib.xengnttab_open(0, 0);
        if (gnttab == 0) {
            return new NativeIoException("xengnttab_open", XenNative.errno(), GNTDEV);
        }
        GntLib.xengnttab_close(gnttab);
        long evtchn = EvtchnLib.xenevtchn_open(0, 0);
        if (evtchn == 0) {
            return new NativeIoException("xenevtchn_open", XenNative.errno(), EVTCHN);
        }
        EvtchnLib.xenevtchn_close(evtchn);
        return null;
    }

    /** Linux on x86-64/aarch64, the Xen devices exist and are accessible, and the Xen libraries load. */
    public static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /** {@code null} if {@link #isAvailable()}; otherwise what is missing (a device, a library, access). */
    public static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * Throws an {@link UnsatisfiedLinkError} caused by {@link #unavailabilityCause()} unless
     * {@link #isAvailable()}.
     */
    public static void ensureAvailability() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw (Error) new UnsatisfiedLinkError(
                    "the IDTS Xen primitives are unavailable: " + UNAVAILABILITY_CAUSE.getMessage())
                    .initCause(UNAVAILABILITY_CAUSE);
        }
    }
}
