package io.idts.linux;

import com.sun.jna.Memory;

/**
 * The LP64 layout of one {@code struct msghdr} with a single {@code struct iovec}, an optional
 * {@code SCM_RIGHTS} control buffer and the data, all in one native block (checked against the glibc
 * headers on x86-64; aarch64 has the same layout):
 *
 * <pre>
 * 0   msghdr  { void *msg_name; socklen_t msg_namelen; (pad 4) struct iovec *msg_iov; size_t msg_iovlen;
 *               void *msg_control; size_t msg_controllen; int msg_flags; (pad 4) }      56 bytes
 * 56  iovec   { void *iov_base; size_t iov_len; }                                       16 bytes
 * 72  control cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } + int fds[], CMSG_SPACE bytes
 * ..  data
 * </pre>
 *
 * <p>Internal API.
 */
final class MsgHdr {

    static final long MSG_NAME = 0;
    static final long MSG_NAMELEN = 8;
    static final long MSG_IOV = 16;
    static final long MSG_IOVLEN = 24;
    static final long MSG_CONTROL = 32;
    static final long MSG_CONTROLLEN = 40;
    static final long MSG_FLAGS = 48;
    static final int MSGHDR_SIZE = 56;

    static final long IOV_BASE = 0;
    static final long IOV_LEN = 8;
    static final int IOVEC_SIZE = 16;

    static final long CMSG_LEN_FIELD = 0;
    static final long CMSG_LEVEL = 8;
    static final long CMSG_TYPE = 12;
    /** {@code CMSG_ALIGN(sizeof(struct cmsghdr))}: where the data of a control message starts. */
    static final int CMSG_HEADER_SIZE = 16;
    /** Control messages are aligned to {@code sizeof(size_t)}. */
    private static final int CMSG_ALIGNMENT = 8;

    static final int IOVEC_OFFSET = MSGHDR_SIZE;
    static final int CONTROL_OFFSET = IOVEC_OFFSET + IOVEC_SIZE;

    private MsgHdr() {
    }

    /** {@code CMSG_ALIGN(length)}. */
    static long cmsgAlign(long length) {
        return (length + CMSG_ALIGNMENT - 1) & -CMSG_ALIGNMENT;
    }

    /** {@code CMSG_LEN(dataLength)}: the cmsg_len of a control message with that much data. */
    static int cmsgLen(int dataLength) {
        return CMSG_HEADER_SIZE + dataLength;
    }

    /** {@code CMSG_SPACE(dataLength)}: the bytes a control message with that much data occupies. */
    static int cmsgSpace(int dataLength) {
        return (int) (CMSG_HEADER_SIZE + cmsgAlign(dataLength));
    }

    /**
     * A zeroed native block holding a msghdr whose one iovec covers {@code dataLength} bytes at
     * {@link #dataOffset(int)} and whose control buffer has {@code controlLength} bytes (none if 0).
     */
    static Memory allocate(int controlLength, int dataLength) {
        // Memory(0) is illegal; an empty iovec still gets one byte to point at.
        Memory block = new Memory(CONTROL_OFFSET + controlLength + Math.max(dataLength, 1));
        block.clear();
        block.setPointer(MSG_IOV, block.share(IOVEC_OFFSET));
        block.setLong(MSG_IOVLEN, 1);
        block.setPointer(IOVEC_OFFSET + IOV_BASE, block.share(dataOffset(controlLength)));
        block.setLong(IOVEC_OFFSET + IOV_LEN, dataLength);
        if (controlLength > 0) {
            block.setPointer(MSG_CONTROL, block.share(CONTROL_OFFSET));
            block.setLong(MSG_CONTROLLEN, controlLength);
        }
        return block;
    }

    /** Where the data starts in a block made by {@link #allocate} with this control length. */
    static long dataOffset(int controlLength) {
        return CONTROL_OFFSET + controlLength;
    }
}
