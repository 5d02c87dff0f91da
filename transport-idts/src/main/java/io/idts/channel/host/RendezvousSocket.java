package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.backend.IdtsBackend;

import io.idts.linux.DirectoryLock;
import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.linux.UnixDomainSocket;
import io.netty.util.internal.SystemPropertyUtil;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.BindException;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The host backend's rendezvous entry: a Unix-domain socket file named after the service in the rendezvous
 * directory, which the server listens on and clients connect to.
 *
 * <p>A file rather than a name in Linux's abstract namespace, because abstract names belong to a network namespace:
 * two containers with network namespaces of their own, as Docker and Kubernetes make them, never meet there, while
 * both can see one directory (a bind mount, a {@code hostPath} or {@code emptyDir} volume). The file is made
 * {@code rw-------}: the kernel lets only the server's user connect, and both sides still check each other's uid
 * through {@code SO_PEERCRED} as before. {@value IdtsAddress#RENDEZVOUS_PEER_UIDS_PROPERTY} opens it to other uids
 * deliberately: the entry is then writable by all and the uid checks admit those uids too.
 *
 * <p>A server that died leaves its file behind; the next server of the same user on the service finds nobody
 * listening on it and replaces it, and a client reaching it is told the entry is stale. Servers bind holding a lock on
 * the rendezvous directory ({@link DirectoryLock}), so of several that start together on one stale entry exactly one
 * replaces it and the others find it served.
 */
final class RendezvousSocket {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(RendezvousSocket.class);

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    /** With peer uids the uid check of the handshake filters: the kernel must let every user through first. */
    private static final Set<PosixFilePermission> EVERYONE = PosixFilePermissions.fromString("rw-rw-rw-");
    private static final Set<PosixFilePermission> OWNER_ONLY_DIRECTORY = PosixFilePermissions.fromString("rwx------");
    /** Long past any bind: a holder keeps the directory's lock for a bind, perhaps a probe and an unlink. */
    private static final long DIRECTORY_LOCK_TIMEOUT_SECONDS = 5;

    private final IdtsAddress address;
    private final Path path;
    private final int fd;
    /** The inode of our socket file: close() removes the file only if it is still ours. */
    private final Object inode;

    private RendezvousSocket(IdtsAddress address, Path path, int fd, Object inode) {
        this.address = address;
        this.path = path;
        this.fd = fd;
        this.inode = inode;
    }

    /**
     * Listens on the rendezvous entry of {@code address}, making the rendezvous directory ({@code rwx------}) if it
     * does not exist and replacing a stale entry of the same user.
     *
     * @throws BindException if a server listens there already, or the entry is not a socket, or belongs to another
     *                       user, or the rendezvous directory cannot be locked, saying which
     */
    static RendezvousSocket listen(IdtsAddress address, int backlog) throws IOException {
        Path path = Paths.get(address.socketPath());
        Path directory = path.getParent();
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIRECTORY));
        }
        // Servers bind in turn. Deciding that an entry is stale and unlinking it are two steps: two servers starting
        // together on one stale entry could both decide, and the second would unlink the first's fresh socket and
        // bind its own, leaving the first listening on a name nobody can reach. A socket between its bind and its
        // listen also looks stale to a probe. Under the lock, every entry a server finds was made by a server that
        // is listening or gone.
        DirectoryLock lock = lockDirectory(address, directory);
        try {
            int fd = bindReplacingStaleEntry(address, path, backlog);
            boolean success = false;
            try {
                // Connects that came between bind and this chmod still meet the uid check of the handshake.
                Files.setPosixFilePermissions(path, peerUids().isEmpty() ? OWNER_ONLY : EVERYONE);
                RendezvousSocket socket = new RendezvousSocket(address, path, fd,
                        Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS));
                success = true;
                return socket;
            } finally {
                if (!success) {
                    FileDescriptors.closeQuietly(fd);
                    Files.deleteIfExists(path);
                }
            }
        } finally {
            lock.close();
        }
    }

    /**
     * The lock servers take on the rendezvous directory while they bind: a {@code flock} on the directory itself, so
     * that no lock file is left behind, the kernel releases it for a server that dies holding it, and servers of
     * every user who may read the directory take turns.
     */
    private static DirectoryLock lockDirectory(IdtsAddress address, Path directory) throws IOException {
        DirectoryLock lock;
        try {
            lock = DirectoryLock.lock(directory.toString(), DIRECTORY_LOCK_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (NativeIoException e) {
            if (e.errno() == Errno.EACCES) {
                throw bindException("IDTS address " + address + " cannot be bound: this process (uid "
                        + LinuxHost.uid() + ") may not read the rendezvous directory " + directory + ", which servers "
                        + "lock while they bind; give the server's user read, write and search permission (rwx) on it",
                        e);
            }
            throw bindException("IDTS address " + address + " cannot be bound: the rendezvous directory " + directory
                    + " cannot be locked (" + e.getMessage() + ')', e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException("interrupted while waiting to bind IDTS "
                    + "address " + address + " (another server held the lock of its rendezvous directory)");
            interrupted.initCause(e);
            throw interrupted;
        }
        if (lock == null) {
            throw new BindException("IDTS address " + address + " cannot be bound: another process has held the lock "
                    + "of the rendezvous directory " + directory + " for " + DIRECTORY_LOCK_TIMEOUT_SECONDS + " s (a "
                    + "server stopped or stuck while binding there; 'fuser -v " + directory + "' lists who has the "
                    + "directory open); try again once it is gone");
        }
        return lock;
    }

    /** Under the directory lock: listens on {@code path}, replacing a stale entry of ours first. */
    private static int bindReplacingStaleEntry(IdtsAddress address, Path path, int backlog) throws IOException {
        try {
            return UnixDomainSocket.listenOnPath(path.toString(), backlog);
        } catch (NativeIoException e) {
            if (e.errno() != Errno.EADDRINUSE) {
                throw e;
            }
            removeStaleEntry(address, path, e);
        }
        try {
            return UnixDomainSocket.listenOnPath(path.toString(), backlog);
        } catch (NativeIoException e) {
            if (e.errno() != Errno.EADDRINUSE) {
                throw e;
            }
            // Every IDTS server binds under the lock: this one did not (another program, or an older IDTS).
            throw bindException("IDTS address " + address + " is already in use: another program made its "
                    + "rendezvous entry " + path + " while this server replaced the stale one there", e);
        }
    }

    /** The entry exists: removes it if it is a socket of ours that nobody listens on, or says why it stays. */
    private static void removeStaleEntry(IdtsAddress address, Path path, NativeIoException inUse)
            throws IOException {
        Map<String, Object> attributes;
        try {
            attributes = Files.readAttributes(path, "unix:mode,uid", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return; // its server just removed it
        }
        int mode = (Integer) attributes.get("mode");
        int owner = (Integer) attributes.get("uid");
        if ((mode & 0170000) != 0140000) {
            throw bindException("IDTS address " + address + " cannot be bound: " + path
                    + " exists and is not a socket; remove it or use another service name", inUse);
        }
        if (owner != LinuxHost.uid()) {
            throw bindException("IDTS address " + address + " cannot be bound: its rendezvous entry " + path
                    + " belongs to uid " + owner + ", this process runs as uid " + LinuxHost.uid()
                    + "; that user's server may be running, or its entry is stale and that user (or root) must "
                    + "remove it", inUse);
        }
        try {
            FileDescriptors.closeQuietly(UnixDomainSocket.connectToPath(path.toString()));
        } catch (NativeIoException probe) {
            if (probe.errno() == Errno.ECONNREFUSED) {
                // Not a server between its bind and its listen: that happens under the lock we hold.
                logger.debug("Replacing the stale rendezvous entry {} of a server that is gone", path);
                Files.deleteIfExists(path);
                return;
            }
            if (probe.errno() == Errno.ENOENT) {
                return; // its server just removed it
            }
        }
        throw bindException("IDTS address " + address + " is already in use: another server listens on its "
                + "rendezvous entry " + path + "; stop that server or bind another service name", inUse);
    }

    private static BindException bindException(String message, Throwable cause) {
        BindException e = new BindException(message);
        e.initCause(cause);
        return e;
    }

    /**
     * Connects to the rendezvous entry of {@code remote}. Like every Unix-domain connect it completes at once or
     * fails.
     *
     * @throws ConnectException if nobody listens there (no entry, or a stale one), or this process may not reach it,
     *                          saying which; {@link IdtsBackend.BacklogFullException} if the server's backlog is full
     */
    static int connect(IdtsAddress remote) throws IOException {
        String path = remote.socketPath();
        try {
            return UnixDomainSocket.connectToPath(path);
        } catch (NativeIoException e) {
            ConnectException failed;
            switch (e.errno()) {
                case Errno.ENOENT:
                    failed = new ConnectException("connection refused: nobody listens on IDTS address " + remote
                            + ": there is no rendezvous entry " + path + " (start the server first, and check that "
                            + "both sides see the same rendezvous directory)");
                    break;
                case Errno.ECONNREFUSED:
                    failed = new ConnectException("connection refused: nobody listens on IDTS address " + remote
                            + ": its rendezvous entry " + path + " is stale (the server that made it is gone; the "
                            + "next server on the service replaces it)");
                    break;
                case Errno.EACCES:
                case Errno.EPERM:
                    failed = new ConnectException("may not connect to IDTS address " + remote + ": this process "
                            + "(uid " + LinuxHost.uid() + ") has no write permission on its rendezvous entry " + path
                            + " (" + describeOwner(path) + "); IDTS connects processes of the same user unless the "
                            + "server opens its rendezvous to others (see docs/routing.md)");
                    break;
                case Errno.EAGAIN:
                    failed = new IdtsBackend.BacklogFullException("the server at IDTS address " + remote
                            + " has a full connection backlog");
                    break;
                default:
                    throw e;
            }
            failed.initCause(e);
            throw failed;
        }
    }

    private static String describeOwner(String path) {
        try {
            Map<String, Object> attributes =
                    Files.readAttributes(Paths.get(path), "unix:mode,uid", LinkOption.NOFOLLOW_LINKS);
            return "owned by uid " + attributes.get("uid") + ", mode "
                    + Integer.toOctalString((Integer) attributes.get("mode") & 07777);
        } catch (NoSuchFileException e) {
            return "gone meanwhile";
        } catch (IOException | RuntimeException e) {
            return "its owner unreadable: " + e.getMessage();
        }
    }

    /**
     * Returns {@code true} if a process of {@code uid} may meet this one at a rendezvous: it runs as the same user,
     * or {@value IdtsAddress#RENDEZVOUS_PEER_UIDS_PROPERTY} names its uid.
     *
     * @throws IllegalArgumentException if that property is not a list of uids
     */
    static boolean mayMeet(int uid) {
        return uid == LinuxHost.uid() || peerUids().contains(uid);
    }

    /** For messages: the uids the rendezvous is opened to, or how to open it. */
    static String describePeerUids() {
        Set<Integer> uids = peerUids();
        return uids.isEmpty()
                ? " (to open the rendezvous to other users, see " + IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY
                        + " in docs/routing.md)"
                : " (" + IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY + " opens it to uids " + uids + " only)";
    }

    /** The uids of {@value IdtsAddress#RENDEZVOUS_PEER_UIDS_PROPERTY}; read each time, so tests may change it. */
    static Set<Integer> peerUids() {
        String value = SystemPropertyUtil.get(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY, "").trim();
        if (value.isEmpty()) {
            return Collections.emptySet();
        }
        Set<Integer> uids = new TreeSet<>();
        for (String uid : value.split(",")) {
            String trimmed = uid.trim();
            if (trimmed.isEmpty() || trimmed.length() > 10 || !trimmed.chars().allMatch(c -> c >= '0' && c <= '9')
                    || Long.parseLong(trimmed) > 0xFFFFFFFEL) {
                throw new IllegalArgumentException("system property " + IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY
                        + " must be a comma-separated list of uids (like '1001,1002'), not '" + value + "'");
            }
            uids.add((int) Long.parseLong(trimmed));
        }
        return uids;
    }

    /** The listening socket. */
    int fd() {
        return fd;
    }

    /** Stops listening and removes the entry, unless another server replaced it meanwhile. */
    void close() {
        // Removed while still listening, so no other server can have found the entry stale and replaced it yet.
        try {
            if (inode.equals(Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS))) {
                Files.delete(path);
            }
        } catch (NoSuchFileException e) {
            // Removed by hand, or by a server that found it stale: nothing left to do.
        } catch (IOException e) {
            logger.warn("Could not remove the rendezvous entry {} of {}", path, address, e);
        }
        FileDescriptors.closeQuietly(fd);
    }

    @Override
    public String toString() {
        return "RendezvousSocket(" + path + ", fd " + fd + ')';
    }
}
