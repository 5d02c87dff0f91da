package io.idts.linux;

import com.sun.jna.Memory;
import io.netty.util.internal.EmptyArrays;
import io.netty.util.internal.ObjectUtil;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * {@code AF_UNIX SOCK_STREAM} sockets bound to a file system path ({@link #listenOnPath}, {@link #connectToPath}),
 * reachable from any network namespace that sees the file, with {@code SCM_RIGHTS} and {@code SO_PEERCRED}. Every
 * socket made here is {@code SOCK_NONBLOCK | SOCK_CLOEXEC}; received descriptors are close-on-exec.
 *
 * <p>Paths are encoded in UTF-8 and are at most {@value #MAX_PATH_BYTES} bytes.
 *
 * <p>Internal API.
 */
public final class UnixDomainSocket {

    /** {@code sizeof(sun_path)} (108) less the terminating NUL. */
    public static final int MAX_PATH_BYTES = 107;
    /** {@code SCM_MAX_FD}: the most descriptors the kernel accepts in one message. */
    public static final int MAX_FDS_PER_MESSAGE = 253;

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int DEFAULT_PROTOCOL = 0;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int SO_PEERCRED = 17;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SEND_FLAGS = MSG_NOSIGNAL | MSG_DONTWAIT;
    private static final int RECEIVE_FLAGS = MSG_CMSG_CLOEXEC | MSG_DONTWAIT;

    /** {@code sizeof(sa_family_t)}: sun_path follows it. */
    private static final int SUN_FAMILY_SIZE = 2;
    /** The NUL in sun_path[0]. */

    /** {@code struct ucred { pid_t pid; uid_t uid; gid_t gid; }} followed by the socklen_t optlen. */
    private static final int UCRED_PID = 0;
    private static final int UCRED_UID = 4;
    private static final int UCRED_GID = 8;
    private static final int UCRED_SIZE = 12;
    private static final int SOCKLEN_SIZE = 4;

    private UnixDomainSocket() {
    }

    /**
     * A listening socket bound to the file system path {@code path} ({@code socket}, {@code bind}, {@code listen}).
     * The socket file is created with the process's umask; the caller sets its mode and removes it when done.
     * A path, unlike a name in the abstract namespace, is reached from every network namespace that sees the file.
     *
     * @throws NativeIoException with errno {@link Errno#EADDRINUSE} if a file exists at {@code path}
     */
    public static int listenOnPath(String path, int backlog) throws NativeIoException {
        byte[] address = pathAddress(path);
        ObjectUtil.checkPositiveOrZero(backlog, "backlog");
        LinuxHost.ensureAvailability();
        int fd = newSocket();
        if (LibC.bind(fd, address, address.length) != 0) {
            int errno = LibC.errno();
            LibC.close(fd);
            throw new NativeIoException("bind", errno, errno == Errno.EADDRINUSE
                    ? "socket path " + path + " exists already" : "socket path " + path);
        }
        if (LibC.listen(fd, backlog) != 0) {
            int errno = LibC.errno();
            LibC.close(fd);
            throw new NativeIoException("listen", errno, "socket path " + path);
        }
        return fd;
    }

    /**
     * A socket connected to the file system path {@code path}; a Unix-domain connect completes at once or
     * fails; it never returns {@code EINPROGRESS}.
     *
     * @throws NativeIoException with errno {@link Errno#ENOENT} if there is no such file, {@link Errno#ECONNREFUSED}
     *         if nobody listens on it (a stale socket file), {@link Errno#EACCES} if this process may not write
     *         to it, or {@link Errno#EAGAIN} if the listener's backlog is full (the socket is closed)
     */
    public static int connectToPath(String path) throws NativeIoException {
        byte[] address = pathAddress(path);
        LinuxHost.ensureAvailability();
        int fd = newSocket();
        if (LibC.connect(fd, address, address.length) != 0) {
            int errno = LibC.errno();
            LibC.close(fd);
            throw new NativeIoException("connect", errno, "socket path " + path);
        }
        return fd;
    }

    /** {@code accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)}: the new socket, or -1 if no connection is pending. */
    public static int accept(int listenFd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        int fd = LibC.accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int errno = LibC.errno();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            throw new NativeIoException("accept4", errno, "fd " + listenFd);
        }
        return fd;
    }

    /**
     * One {@code sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT)} of {@code data[off, off + len)}, carrying {@code fds}
     * (if any) as one {@code SCM_RIGHTS} control message. The descriptors travel with the first byte sent;
     * this process still owns them (the peer receives duplicates).
     *
     * <p>A stream socket may take fewer bytes than offered: send the rest without the descriptors.
     *
     * @param fds descriptors to pass, possibly empty; when not empty, {@code len} must be at least 1,
     *            since a stream socket passes descriptors only along with data
     * @return the number of bytes sent, or -1 if the socket buffer is full ({@code EAGAIN})
     * @throws NativeIoException e.g. {@link Errno#EPIPE} or {@link Errno#ECONNRESET} if the peer has gone
     */
    public static int send(int fd, byte[] data, int off, int len, int[] fds) throws NativeIoException {
        ObjectUtil.checkNotNull(data, "data");
        ObjectUtil.checkNotNull(fds, "fds");
        Objects.checkFromIndexSize(off, len, data.length);
        ObjectUtil.checkInRange(fds.length, 0, MAX_FDS_PER_MESSAGE, "fds.length");
        if (fds.length > 0 && len == 0) {
            throw new IllegalArgumentException("len: 0 (expected: > 0 when passing file descriptors)");
        }
        LinuxHost.ensureAvailability();
        int controlLength = fds.length == 0 ? 0 : MsgHdr.cmsgSpace(fds.length * Integer.BYTES);
        try (Memory msg = MsgHdr.allocate(controlLength, len)) {
            msg.write(MsgHdr.dataOffset(controlLength), data, off, len);
            if (fds.length > 0) {
                long cmsg = MsgHdr.CONTROL_OFFSET;
                msg.setLong(cmsg + MsgHdr.CMSG_LEN_FIELD, MsgHdr.cmsgLen(fds.length * Integer.BYTES));
                msg.setInt(cmsg + MsgHdr.CMSG_LEVEL, SOL_SOCKET);
                msg.setInt(cmsg + MsgHdr.CMSG_TYPE, SCM_RIGHTS);
                msg.write(cmsg + MsgHdr.CMSG_HEADER_SIZE, fds, 0, fds.length);
            }
            long sent = LibC.sendmsg(fd, msg, SEND_FLAGS);
            if (sent < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EAGAIN) {
                    return -1;
                }
                throw new NativeIoException("sendmsg", errno, "fd " + fd);
            }
            return (int) sent;
        }
    }

    /**
     * One {@code recvmsg(MSG_CMSG_CLOEXEC | MSG_DONTWAIT)} into {@code data[off, off + len)}, accepting up
     * to {@code maxFds} descriptors.
     *
     * <p>If the control data was truncated ({@code MSG_CTRUNC}) or holds more than {@code maxFds}
     * descriptors (the control buffer rounds up to 8 bytes, so it can fit one more than asked for), every
     * descriptor received is closed and a {@link NativeIoException} with errno
     * {@link NativeIoException#NO_ERRNO} says so: the peer broke the protocol. If fewer descriptors than
     * {@code maxFds} arrived truncated, the kernel could not install the others: every descriptor received is
     * closed and the exception's errno is {@link Errno#EMFILE}.
     *
     * @param len at least 1, so that 0 bytes read can only mean end of stream
     * @return bytes read (&gt; 0), 0 at end of stream, or -1 if nothing is available ({@code EAGAIN}),
     *         with the descriptors received, which the caller owns
     */
    public static ReceivedMessage receive(int fd, byte[] data, int off, int len, int maxFds)
            throws NativeIoException {
        ObjectUtil.checkNotNull(data, "data");
        ObjectUtil.checkPositive(len, "len");
        Objects.checkFromIndexSize(off, len, data.length);
        ObjectUtil.checkInRange(maxFds, 0, MAX_FDS_PER_MESSAGE, "maxFds");
        LinuxHost.ensureAvailability();
        int controlLength = maxFds == 0 ? 0 : MsgHdr.cmsgSpace(maxFds * Integer.BYTES);
        try (Memory msg = MsgHdr.allocate(controlLength, len)) {
            long received = LibC.recvmsg(fd, msg, RECEIVE_FLAGS);
            if (received < 0) {
                int errno = LibC.errno();
                if (errno == Errno.EAGAIN) {
                    return ReceivedMessage.NOTHING;
                }
                throw new NativeIoException("recvmsg", errno, "fd " + fd);
            }
            int[] fds = controlLength == 0 ? EmptyArrays.EMPTY_INTS : receivedFds(msg);
            boolean truncated = (msg.getInt(MsgHdr.MSG_FLAGS) & MSG_CTRUNC) != 0;
            if (truncated && fds.length < maxFds) {
                // The buffer had room for more: the kernel could not install them, this process is out of
                // descriptors (the bytes are consumed, the descriptors it could not install are gone).
                for (int receivedFd : fds) {
                    LibC.close(receivedFd);
                }
                throw new NativeIoException("recvmsg", Errno.EMFILE, "only " + fds.length + " of the file descriptors "
                        + "received could be installed, and were closed (fd " + fd + ')');
            }
            if (truncated || fds.length > maxFds) {
                for (int receivedFd : fds) {
                    LibC.close(receivedFd);
                }
                throw NativeIoException.withoutErrno("recvmsg", (truncated
                        ? "control data truncated (MSG_CTRUNC): the peer sent more than " + maxFds
                                + " file descriptors; closed the " + fds.length + " that arrived"
                        : "the peer sent " + fds.length + " file descriptors, more than the " + maxFds
                                + " accepted; closed them") + " (fd " + fd + ')');
            }
            if (received > 0) {
                msg.read(MsgHdr.dataOffset(controlLength), data, off, (int) received);
            }
            return new ReceivedMessage((int) received, fds);
        }
    }

    /** The descriptors of every {@code SCM_RIGHTS} control message ({@code CMSG_FIRSTHDR/NXTHDR} walk). */
    private static int[] receivedFds(Memory msg) {
        long controlLength = msg.getLong(MsgHdr.MSG_CONTROLLEN);
        int[] fds = EmptyArrays.EMPTY_INTS;
        long cmsg = 0;
        while (cmsg + MsgHdr.CMSG_HEADER_SIZE <= controlLength) {
            long base = MsgHdr.CONTROL_OFFSET + cmsg;
            long cmsgLen = msg.getLong(base + MsgHdr.CMSG_LEN_FIELD);
            if (cmsgLen < MsgHdr.CMSG_HEADER_SIZE || cmsg + cmsgLen > controlLength) {
                break;
            }
            if (msg.getInt(base + MsgHdr.CMSG_LEVEL) == SOL_SOCKET
                    && msg.getInt(base + MsgHdr.CMSG_TYPE) == SCM_RIGHTS) {
                int count = (int) ((cmsgLen - MsgHdr.CMSG_HEADER_SIZE) / Integer.BYTES);
                int old = fds.length;
                fds = Arrays.copyOf(fds, old + count);
                msg.read(base + MsgHdr.CMSG_HEADER_SIZE, fds, old, count);
            }
            cmsg += MsgHdr.cmsgAlign(cmsgLen);
        }
        return fds;
    }

    /** {@code getsockopt(SO_PEERCRED)}: who the peer was when it connected (or listened). */
    public static PeerCredentials peerCredentials(int fd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        try (Memory ucred = new Memory(UCRED_SIZE + SOCKLEN_SIZE)) {
            ucred.clear();
            ucred.setInt(UCRED_SIZE, UCRED_SIZE);
            if (LibC.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, ucred.share(UCRED_SIZE)) != 0) {
                throw new NativeIoException("getsockopt(SO_PEERCRED)", LibC.errno(), "fd " + fd);
            }
            return new PeerCredentials(ucred.getInt(UCRED_PID), ucred.getInt(UCRED_UID), ucred.getInt(UCRED_GID));
        }
    }

    private static int newSocket() throws NativeIoException {
        int fd = LibC.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, DEFAULT_PROTOCOL);
        if (fd < 0) {
            throw new NativeIoException("socket", LibC.errno(), "AF_UNIX SOCK_STREAM");
        }
        return fd;
    }

    /** {@code struct sockaddr_un} for a file system path: the path and its terminating NUL. */
    private static byte[] pathAddress(String path) {
        ObjectUtil.checkNonEmpty(path, "path");
        byte[] name = path.getBytes(StandardCharsets.UTF_8);
        if (name.length > MAX_PATH_BYTES || path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("path: '" + path + "' is " + name.length
                    + " bytes in UTF-8 (expected: at most " + MAX_PATH_BYTES + " bytes, no NUL)");
        }
        byte[] address = new byte[SUN_FAMILY_SIZE + name.length + 1];
        ByteBuffer.wrap(address).order(ByteOrder.nativeOrder()).putShort((short) AF_UNIX);
        System.arraycopy(name, 0, address, SUN_FAMILY_SIZE, name.length);
        return address;
    }
}
