package io.idts.channel;

import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.host.HostBackend;
import io.idts.channel.xen.XenBackend;

import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.SystemPropertyUtil;

import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Objects;

/**
 * The address of an IDTS endpoint: a service name in a rendezvous directory (host backend: processes of one Linux
 * host), or a service name in a Xen domain (Xen backend: {@link #xen(int, String)}).
 *
 * <p>A server binds {@code IdtsAddress.of("orders")}; a client in another process of the same user connects to the
 * same address. The rendezvous directory only namespaces the names: the host backend listens on a Unix-domain
 * socket in Linux's abstract namespace, so nothing is ever created in the file system and nothing is left behind
 * when a process dies. The default directory is {@code $XDG_RUNTIME_DIR/idts}, or {@code /tmp/idts-<user>} when
 * that variable is not set; the system property {@value #RENDEZVOUS_DIR_PROPERTY} overrides it, and
 * {@link #of(Path, String)} sets it per address.
 *
 * <p>Value semantics: two addresses are equal when their directory and service are. The string form, returned by
 * {@link #toString()} and read by {@link #parse(String)}, is the directory and the service joined by a slash,
 * {@code /run/user/1000/idts/orders}.
 *
 * <p>A Xen address names a domain by its id and a service in it: {@code IdtsAddress.xen(0, "orders")} is the service
 * {@code orders} that a server in dom0 listens on, published in XenStore; a client in any domain that may share
 * pages with dom0 connects to it. Its string form is {@code xen:<domid>/<service>}, {@code xen:0/orders}. The
 * backend is chosen by the address: a Xen address needs Xen ({@code /dev/xen/*} and Xen's libraries), a host
 * address needs only Linux.
 */
public final class IdtsAddress extends SocketAddress {
    private static final long serialVersionUID = 1L;

    /** System property naming the default rendezvous directory. */
    public static final String RENDEZVOUS_DIR_PROPERTY = "io.idts.rendezvousDir";
    /** Longest service name, in characters. */
    public static final int MAX_SERVICE_LENGTH = 64;

    /** Prefix of the string form of Xen addresses. */
    private static final String XEN_PREFIX = "xen:";
    /** Largest domain id Xen assigns to a domain (DOMID_FIRST_RESERVED - 1). */
    static final int MAX_DOMID = 0x7FEF;

    /** Prefix of the abstract socket names, so that IDTS names do not collide with other programs' names. */
    private static final String ABSTRACT_NAME_PREFIX = "idts:";
    /** sun_path holds 108 bytes; the abstract namespace uses the first for its NUL marker. */
    private static final int MAX_ABSTRACT_NAME_BYTES = 107;

    /** The rendezvous directory of a host address; {@code null} for a Xen address. */
    private final String directory;
    /** The domain of a Xen address; {@code -1} for a host address. */
    private final int domid;
    private final String service;

    private IdtsAddress(int domid, String service) {
        this.directory = null;
        this.domid = domid;
        this.service = service;
    }

    private IdtsAddress(String directory, String service) {
        this.directory = directory;
        this.domid = -1;
        this.service = service;
        int nameBytes = abstractSocketName().getBytes(StandardCharsets.UTF_8).length;
        if (nameBytes > MAX_ABSTRACT_NAME_BYTES) {
            throw new IllegalArgumentException("IDTS address too long: '" + this + "' makes a socket name of "
                    + nameBytes + " bytes, the limit is " + MAX_ABSTRACT_NAME_BYTES
                    + "; use a shorter rendezvous directory or service name");
        }
    }

    /** The address of {@code service} in the default rendezvous directory. */
    public static IdtsAddress of(String service) {
        return new IdtsAddress(defaultDirectory(), checkService(service));
    }

    /** The address of {@code service} in {@code rendezvousDirectory}, an absolute path. */
    public static IdtsAddress of(Path rendezvousDirectory, String service) {
        return new IdtsAddress(checkDirectory(rendezvousDirectory), checkService(service));
    }

    /**
     * The address of {@code service} in the Xen domain {@code domid}, for the Xen backend.
     *
     * @param domid the id of the domain whose server listens on the service (0 for dom0), 0 to {@value #MAX_DOMID}
     */
    public static IdtsAddress xen(int domid, String service) {
        return new IdtsAddress(checkDomid(domid), checkService(service));
    }

    /**
     * Reads the string form: a bare service name ({@code orders}, in the default rendezvous directory), an absolute
     * path whose last element is the service ({@code /run/idts/orders}), or a Xen address ({@code xen:0/orders}).
     *
     * @throws IllegalArgumentException if {@code text} is none of these, saying why
     */
    public static IdtsAddress parse(String text) {
        ObjectUtil.checkNotNull(text, "text");
        if (text.startsWith(XEN_PREFIX)) {
            return parseXen(text);
        }
        int slash = text.lastIndexOf('/');
        if (slash < 0) {
            return of(text);
        }
        if (!text.startsWith("/")) {
            throw new IllegalArgumentException("not an IDTS address: '" + text
                    + "' (expected a service name like 'orders' or an absolute path like '/run/idts/orders')");
        }
        String dir = slash == 0 ? "/" : text.substring(0, slash);
        return of(Paths.get(dir), text.substring(slash + 1));
    }

    private static IdtsAddress parseXen(String text) {
        int slash = text.indexOf('/');
        String domain = slash < 0 ? "" : text.substring(XEN_PREFIX.length(), slash);
        int domid = -1;
        if (!domain.isEmpty() && domain.length() <= 5 && domain.chars().allMatch(c -> c >= '0' && c <= '9')) {
            domid = Integer.parseInt(domain);
        }
        if (domid < 0 || domid > MAX_DOMID) {
            throw new IllegalArgumentException("not an IDTS Xen address: '" + text
                    + "' (expected xen:<domid>/<service> with a domain id from 0 to " + MAX_DOMID
                    + ", like 'xen:0/orders')");
        }
        return xen(domid, text.substring(slash + 1));
    }

    /** The service name. */
    public String service() {
        return service;
    }

    /** {@code true} for an address of the Xen backend ({@link #xen(int, String)}). */
    public boolean isXen() {
        return directory == null;
    }

    /** The domain of a Xen address; {@code -1} for a host address. */
    public int domid() {
        return domid;
    }

    /** The rendezvous directory of a host address, an absolute path; {@code null} for a Xen address. */
    public Path rendezvousDirectory() {
        return directory == null ? null : Paths.get(directory);
    }

    /** The backend that serves this address. */
    IdtsBackend backend() {
        return directory == null ? XenBackend.INSTANCE : HostBackend.INSTANCE;
    }

    /**
     * The name of the host backend's listening socket in Linux's abstract namespace, without its leading NUL. For
     * the host backend of this transport.
     */
    public String abstractSocketName() {
        if (directory == null) {
            throw new IllegalStateException("a Xen address has no socket name: " + this);
        }
        return ABSTRACT_NAME_PREFIX + toString();
    }

    /** The address of another service in the same rendezvous directory, or the same domain. */
    public IdtsAddress sibling(String otherService) {
        return directory == null ? xen(domid, otherService) : new IdtsAddress(directory, checkService(otherService));
    }

    /**
     * Returns {@code true} if {@code name} may be a service name: 1 to {@value #MAX_SERVICE_LENGTH} characters of
     * {@code [A-Za-z0-9._-]}, neither {@code .} nor {@code ..}.
     */
    public static boolean isValidService(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_SERVICE_LENGTH
                || ".".equals(name) || "..".equals(name)) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static String checkService(String service) {
        ObjectUtil.checkNotNull(service, "service");
        if (!isValidService(service)) {
            throw new IllegalArgumentException("invalid IDTS service name '" + service + "': use 1 to "
                    + MAX_SERVICE_LENGTH + " characters from A-Z a-z 0-9 . _ - (and not '.' or '..')");
        }
        return service;
    }

    private static int checkDomid(int domid) {
        if (domid < 0 || domid > MAX_DOMID) {
            throw new IllegalArgumentException("invalid Xen domain id " + domid + ": use 0 to " + MAX_DOMID);
        }
        return domid;
    }

    private static String checkDirectory(Path directory) {
        ObjectUtil.checkNotNull(directory, "rendezvousDirectory");
        if (!directory.isAbsolute()) {
            throw new IllegalArgumentException("IDTS rendezvous directory must be an absolute path: " + directory);
        }
        String normalized = directory.normalize().toString();
        if (normalized.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("IDTS rendezvous directory contains a NUL character");
        }
        return normalized.length() > 1 && normalized.endsWith("/")
                ? normalized.substring(0, normalized.length() - 1) : normalized;
    }

    private static String defaultDirectory() {
        String configured = SystemPropertyUtil.get(RENDEZVOUS_DIR_PROPERTY);
        if (configured != null && !configured.isEmpty()) {
            return checkDirectory(Paths.get(configured));
        }
        String runtimeDir = System.getenv("XDG_RUNTIME_DIR");
        if (runtimeDir != null && runtimeDir.startsWith("/")) {
            return checkDirectory(Paths.get(runtimeDir, "idts"));
        }
        return "/tmp/idts-" + System.getProperty("user.name", "unknown");
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof IdtsAddress)) {
            return false;
        }
        IdtsAddress that = (IdtsAddress) o;
        return domid == that.domid && Objects.equals(directory, that.directory)
                && service.equals(that.service);
    }

    @Override
    public int hashCode() {
        return 31 * (directory == null ? domid : directory.hashCode()) + service.hashCode();
    }

    @Override
    public String toString() {
        if (directory == null) {
            return XEN_PREFIX + domid + '/' + service;
        }
        return "/".equals(directory) ? "/" + service : directory + '/' + service;
    }
}
