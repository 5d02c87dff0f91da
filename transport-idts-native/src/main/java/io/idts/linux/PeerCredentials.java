package io.idts.linux;

/**
 * The peer of a Unix-domain socket as the kernel saw it at connect time ({@code struct ucred} from
 * {@code SO_PEERCRED}); uid and gid are unsigned in C and kept as their int bit patterns.
 *
 * <p>Internal API.
 */
public final class PeerCredentials {

    private final int pid;
    private final int uid;
    private final int gid;

    public PeerCredentials(int pid, int uid, int gid) {
        this.pid = pid;
        this.uid = uid;
        this.gid = gid;
    }

    public int pid() {
        return pid;
    }

    public int uid() {
        return uid;
    }

    public int gid() {
        return gid;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof PeerCredentials)) {
            return false;
        }
        PeerCredentials that = (PeerCredentials) o;
        return pid == that.pid && uid == that.uid && gid == that.gid;
    }

    @Override
    public int hashCode() {
        return (pid * 31 + uid) * 31 + gid;
    }

    @Override
    public String toString() {
        return "PeerCredentials(pid=" + pid + ", uid=" + Integer.toUnsignedString(uid)
                + ", gid=" + Integer.toUnsignedString(gid) + ')';
    }
}
