package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.host.HostHandshake;
import io.idts.channel.ring.RegionLayout;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.MemFd;
import io.idts.linux.NativeIoException;
import io.idts.linux.NotificationSocket;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;

import java.io.Closeable;
import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.net.ConnectException;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.INT;
import static io.idts.channel.ring.RegionLayout.LONG;
import static io.idts.channel.ring.RegionLayout.RING_ACCEPTOR_TO_CONNECTOR;
import static io.idts.channel.ring.RegionLayout.RING_CONNECTOR_TO_ACCEPTOR;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_NEW;
import static io.idts.channel.ring.RegionLayout.STATE_OPEN;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;

/**
 * A connecting IDTS endpoint written straight against the ring protocol (docs/protocol.md), without Netty and
 * without the transport's {@code HostHandshake}, {@code RingWriter} or {@code RingReader}: the counterpart of the
 * plain {@code java.net.Socket} that Netty's TCP tests use as a peer. Only the names of offsets, flags, states and
 * reply codes come from {@link RegionLayout} and {@link HostHandshake}, so that the layout is defined once.
 *
 * <p>It connects through the host handshake (a sealed memfd and one end of a notification socket pair passed over the
 * rendezvous socket with the HELLO), produces ring 0 (publishing with release semantics, notifying the
 * acceptor only when its {@code WAITING_FOR_DATA} flag is set, sleeping with {@code WAITING_FOR_SPACE} when the ring is
 * full), consumes ring 1 (sleeping with {@code WAITING_FOR_DATA}, notifying when the acceptor waits for space), shuts
 * its output down by raising its state to {@code OUTPUT_SHUTDOWN}, and closes by raising it to {@code CLOSED} and then
 * closing its descriptors. Every blocking call is bounded by a timeout. Every value read from the region is validated.
 *
 * <p>Not thread-safe: one thread uses it at a time.
 */
public final class RawIdtsPeer implements Closeable {

    /** The protocol version this build speaks. */
    public static final int VERSION = RegionLayout.VERSION;

    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final short POLLIN = 1;
    private static final int POLLFD_SIZE = 8;

    /** The ring this side produces and the one it consumes: 0 and 1 for the connector, 1 and 0 for the acceptor. */
    private final int tx;
    private final int rx;
    private final int ringCapacity;
    private final String localName = "raw-" + ProcessHandle.current().pid() + '-' + SEQUENCE.incrementAndGet();

    private IdtsAddress remote;
    private int socketFd = -1;
    /** This side's end of the notification socket pair; the acceptor got the other end with the HELLO. */
    private int notificationFd = -1;
    private SharedMapping mapping;
    private ByteBuffer region;
    private RegionLayout layout;
    private boolean closed;

    // Ring 0, which this side produces: descriptors written, the acceptor's descriptor and return positions seen, the
    // slice being filled (-1: none) and how full it is, and which slices are the acceptor's.
    private long produced;
    private long consumerSeen;
    private long returnsSeen;
    private int currentSlice = -1;
    private int currentFill;
    private final boolean[] sliceGiven = new boolean[RegionLayout.SLICES_PER_RING];
    private int ownState = STATE_OPEN;
    // Ring 1, which this side consumes: descriptors read, the acceptor's descriptor position seen, the slice being
    // read (-1: none), where in it, how many of its bytes are described, whether it ended, and slices returned.
    private long consumed;
    private long producerSeen;
    private int runSlice = -1;
    private int runOffset;
    private int runEnd;
    private boolean runEnded;
    private long returned;
    private final boolean[] sliceHeld = new boolean[RegionLayout.SLICES_PER_RING];
    private int peerState = STATE_NEW;
    private int helloVersion = RegionLayout.VERSION;
    private int regionVersion = RegionLayout.VERSION;
    private boolean peerHungUp;
    private HandshakeMutation mutation = new HandshakeMutation() { };

    /** Hostile: what the connector's handshake sends instead of the honest values. Every method may be kept. */
    public interface HandshakeMutation {
        /** The seals of the region's memfd; the protocol requires {@link MemFd#SIZE_SEALS}. */
        default int seals() {
            return MemFd.SIZE_SEALS;
        }

        /** Changes the region after its honest header was written (before it is shared). */
        default void region(ByteBuffer region) {
        }

        /** The HELLO to send instead of {@code hello} (at least one byte). */
        default byte[] hello(byte[] hello) {
            return hello;
        }

        /** The descriptors to send instead of {@code fds} (memfd, the acceptor's end of the notification pair). */
        default int[] descriptors(int[] fds) {
            return fds;
        }
    }

    /** A peer with rings of the smallest capacity (4 KiB), so that a few KiB already fill a ring. */
    public RawIdtsPeer() {
        this(RegionLayout.MIN_RING_CAPACITY);
    }

    public RawIdtsPeer(int ringCapacity) {
        this.ringCapacity = RegionLayout.checkCapacity(ringCapacity);
        tx = RING_CONNECTOR_TO_ACCEPTOR;
        rx = RING_ACCEPTOR_TO_CONNECTOR;
    }

    /**
     * The accepting end of a connection whose HELLO {@link RawIdtsServer} received: takes over the socket, the
     * notification socket and the mapped region, writes this side's lines (positions 0, flags 0, state OPEN) whatever
     * they held. The caller sends the reply.
     */
    RawIdtsPeer(String peerName, int socketFd, int notificationFd, SharedMapping mapping, RegionLayout layout) {
        tx = RING_ACCEPTOR_TO_CONNECTOR;
        rx = RING_CONNECTOR_TO_ACCEPTOR;
        ringCapacity = layout.capacity(tx);
        remote = IdtsAddress.of(peerName); // for messages only: the connector's name, in the default directory
        this.socketFd = socketFd;
        this.notificationFd = notificationFd;
        this.mapping = mapping;
        region = mapping.buffer().duplicate().order(ByteOrder.nativeOrder());
        this.layout = layout;
        LONG.setRelease(region, RegionLayout.producerPositionOffset(tx), 0L);
        INT.setRelease(region, RegionLayout.producerFlagsOffset(tx), 0);
        LONG.setRelease(region, RegionLayout.consumerPositionOffset(rx), 0L);
        INT.setRelease(region, RegionLayout.consumerFlagsOffset(rx), 0);
        LONG.setRelease(region, RegionLayout.returnPositionOffset(rx), 0L);
        INT.setRelease(region, RegionLayout.producerStateOffset(tx), STATE_OPEN);
        VarHandle.fullFence();
    }

    /** The acceptor's reply: ACCEPTED. */
    void replyAccepted() throws NativeIoException {
        UnixDomainSocket.send(socketFd, new byte[] { HostHandshake.ACCEPTED }, 0, 1, new int[0]);
    }

    /** Whether this side accepted the connection (it produces ring 1). */
    public boolean isAcceptor() {
        return tx == RING_ACCEPTOR_TO_CONNECTOR;
    }

    /** The region both sides map, native byte order: hostile tests write what they like into it. */
    public ByteBuffer region() {
        checkConnected();
        return region;
    }

    /** This side's end of the notification socket pair (hostile tests: notification floods). */
    public int notificationFd() {
        checkConnected();
        return notificationFd;
    }

    /** Hostile: the handshake {@link #connect} runs sends what {@code mutation} says. Call before it. */
    public RawIdtsPeer mutatingHandshake(HandshakeMutation mutation) {
        this.mutation = mutation;
        return this;
    }

    /**
     * Makes this peer an endpoint of another protocol version: its HELLO and its region header say {@code hello} and
     * {@code region} (this build speaks {@link RegionLayout#VERSION}). Call before {@link #connect}.
     */
    public RawIdtsPeer speaking(int hello, int region) {
        helloVersion = hello;
        regionVersion = region;
        return this;
    }

    /** The path of the rendezvous socket an IDTS server listens on for {@code address}. */
    public static String socketPath(IdtsAddress address) {
        return address.socketPath();
    }

    /** The local service name this peer announces in its HELLO. */
    public String localName() {
        return localName;
    }

    public int ringCapacity() {
        return ringCapacity;
    }

    /**
     * Runs the connector's half of the host handshake.
     *
     * @throws ConnectException       if nobody listens on {@code address} or the server refuses the handshake
     * @throws SocketTimeoutException if the server does not answer within {@code timeoutMillis}
     */
    public void connect(SocketAddress address, long timeoutMillis) throws IOException {
        if (closed || socketFd >= 0) {
            throw new IllegalStateException(closed ? "closed" : "already connected");
        }
        if (!(address instanceof IdtsAddress)) {
            throw new IllegalArgumentException("not an IdtsAddress: " + address);
        }
        remote = (IdtsAddress) address;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        boolean success = false;
        try {
            try {
                socketFd = UnixDomainSocket.connectToPath(socketPath(remote));
            } catch (NativeIoException e) {
                ConnectException refused = new ConnectException("raw IDTS peer: cannot connect to " + remote + ": "
                        + e.getMessage());
                refused.initCause(e);
                throw refused;
            }
            long size = RegionLayout.regionSize(ringCapacity, ringCapacity);
            int memfd = MemFd.create("idts:" + localName, size, mutation.seals());
            int acceptorEnd = -1;
            try {
                mapping = SharedMapping.map(memfd, size);
                region = mapping.buffer();
                writeHeader(size);
                mutation.region(region);
                VarHandle.fullFence();
                int[] pair = NotificationSocket.createPair();
                notificationFd = pair[0];
                acceptorEnd = pair[1];
                byte[] hello = mutation.hello(hello());
                int[] fds = new int[HostHandshake.FD_COUNT];
                fds[HostHandshake.FD_REGION] = memfd;
                fds[HostHandshake.FD_NOTIFICATIONS] = acceptorEnd;
                fds = mutation.descriptors(fds);
                int sent = UnixDomainSocket.send(socketFd, hello, 0, hello.length, fds);
                if (sent != hello.length) {
                    throw new IOException("raw IDTS peer: sent " + sent + " of " + hello.length + " HELLO bytes");
                }
            } finally {
                FileDescriptors.closeQuietly(memfd);
                FileDescriptors.closeQuietly(acceptorEnd);
            }
            if (!awaitReadable(deadline, socketFd)[0]) {
                throw new SocketTimeoutException("raw IDTS peer: no handshake reply from " + remote + " within "
                        + timeoutMillis + " ms");
            }
            byte[] reply = new byte[1];
            ReceivedMessage message = UnixDomainSocket.receive(socketFd, reply, 0, 1, 0);
            if (message.bytes() <= 0) {
                throw new ConnectException("raw IDTS peer: " + remote + " hung up during the handshake");
            }
            if (reply[0] != HostHandshake.ACCEPTED) {
                throw new ConnectException("raw IDTS peer: " + remote + " refused: "
                        + HostHandshake.describeReply(reply[0]));
            }
            success = true;
        } finally {
            if (!success) {
                releaseResources();
            }
        }
    }

    /**
     * The header and the control lines of a fresh region, as the connector writes them (docs/protocol.md, "The
     * region"): control area zeroed, magic, version, capacities, size, own state OPEN, the acceptor's NEW.
     */
    private void writeHeader(long size) throws IOException {
        for (int offset = 0; offset < RegionLayout.DATA_OFFSET; offset += Long.BYTES) {
            LONG.set(region, offset, 0L);
        }
        INT.set(region, RegionLayout.MAGIC_OFFSET, RegionLayout.MAGIC);
        INT.set(region, RegionLayout.VERSION_OFFSET, regionVersion);
        INT.set(region, RegionLayout.RING_0_CAPACITY_OFFSET, ringCapacity);
        INT.set(region, RegionLayout.RING_1_CAPACITY_OFFSET, ringCapacity);
        LONG.set(region, RegionLayout.REGION_SIZE_OFFSET, size);
        INT.set(region, RegionLayout.producerStateOffset(tx), STATE_OPEN);
        INT.set(region, RegionLayout.producerStateOffset(rx), STATE_NEW);
        VarHandle.fullFence();
        // The acceptor's check of the header, run on ours: a mistake here fails the test, not the handshake. A header
        // of another version on purpose is written with the version this build speaks for the check, then put back.
        INT.set(region, RegionLayout.VERSION_OFFSET, RegionLayout.VERSION);
        layout = RegionLayout.validate(region);
        INT.set(region, RegionLayout.VERSION_OFFSET, regionVersion);
        VarHandle.fullFence();
    }

    /** HELLO: u32 magic, u16 version, u16 name length, the name; native byte order. */
    private byte[] hello() {
        byte[] name = localName.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer hello = ByteBuffer.allocate(HostHandshake.HELLO_NAME_OFFSET + name.length)
                .order(ByteOrder.nativeOrder());
        hello.putInt(HostHandshake.HELLO_MAGIC_OFFSET, RegionLayout.MAGIC);
        hello.putShort(HostHandshake.HELLO_VERSION_OFFSET, (short) helloVersion);
        hello.putShort(HostHandshake.HELLO_NAME_LENGTH_OFFSET, (short) name.length);
        hello.put(HostHandshake.HELLO_NAME_OFFSET, name);
        return hello.array();
    }

    /** Writes one byte (the low 8 bits of {@code b}), as {@code OutputStream.write(int)}. */
    public void write(int b, long timeoutMillis) throws IOException {
        write(new byte[] { (byte) b }, 0, 1, timeoutMillis);
    }

    /**
     * Copies all of {@code data[off, off + len)} into ring 0: into the slice being filled, one descriptor per copy
     * (END_OF_SLICE on the copy that fills the slice), publishing after each copy and sleeping for space when no slice
     * or no descriptor entry is free.
     *
     * @throws SocketTimeoutException if the acceptor does not free enough space within {@code timeoutMillis}
     * @throws IOException            if the acceptor closed the connection, or after {@link #shutdownOutput()}
     */
    public void write(byte[] data, int off, int len, long timeoutMillis) throws IOException {
        checkConnected();
        if (ownState >= STATE_OUTPUT_SHUTDOWN) {
            throw new IOException("raw IDTS peer: write after its output was shut down");
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        int sliceSize = RegionLayout.sliceSize(layout.capacity(tx));
        int dataOffset = layout.dataOffset(tx);
        while (len > 0) {
            if (readPeerState() == STATE_CLOSED) {
                throw new IOException("raw IDTS peer: the acceptor closed the connection");
            }
            if (!hasSpace()) {
                refreshConsumer();
                if (!hasSpace()) {
                    awaitSpace(deadline);
                    continue;
                }
            }
            if (currentSlice < 0) {
                currentSlice = takeFreeSlice();
                currentFill = 0;
                sliceGiven[currentSlice] = true;
            }
            int n = Math.min(len, sliceSize - currentFill);
            region.put(dataOffset + currentSlice * sliceSize + currentFill, data, off, n);
            currentFill += n;
            boolean end = currentFill == sliceSize;
            putDescriptor(RegionLayout.descriptor(currentSlice, n, end));
            if (end) {
                currentSlice = -1;
            }
            off += n;
            len -= n;
            publish();
        }
    }

    /** A free descriptor entry, and a slice with room (the current one, or a free one). */
    private boolean hasSpace() {
        if (produced - consumerSeen >= RegionLayout.DESCRIPTORS_PER_RING) {
            return false;
        }
        return currentSlice >= 0 || takeFreeSliceIndex() >= 0;
    }

    private int takeFreeSliceIndex() {
        for (int slice = 0; slice < sliceGiven.length; slice++) {
            if (!sliceGiven[slice]) {
                return slice;
            }
        }
        return -1;
    }

    private int takeFreeSlice() {
        int slice = takeFreeSliceIndex();
        if (slice < 0) {
            throw new IllegalStateException("no free slice");
        }
        return slice;
    }

    private void putDescriptor(long descriptor) {
        int entry = RegionLayout.descriptorQueueOffset(tx)
                + ((int) produced & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE;
        LONG.set(region, entry, descriptor);
        produced++;
    }

    /** Store P (release), full fence, load the consumer's flags; notify if it sleeps. */
    private void publish() throws IOException {
        LONG.setRelease(region, RegionLayout.producerPositionOffset(tx), produced);
        VarHandle.fullFence();
        int flags = (int) INT.getAcquire(region, RegionLayout.consumerFlagsOffset(tx));
        if ((flags & ~RegionLayout.CONSUMER_FLAGS_KNOWN) != 0) {
            throw new IOException("raw IDTS peer: acceptor's consumer flags 0x" + Integer.toHexString(flags));
        }
        if ((flags & FLAG_WAITING_FOR_DATA) != 0) {
            NotificationSocket.signal(notificationFd);
        }
    }

    /** Loads the acceptor's descriptor position and its returned slices, each validated. */
    private void refreshConsumer() throws IOException {
        long position = (long) LONG.getAcquire(region, RegionLayout.consumerPositionOffset(tx));
        long advance = position - consumerSeen;
        if (advance < 0 || advance > produced - consumerSeen) {
            throw new IOException("raw IDTS peer: acceptor's consumer position 0x" + Long.toHexString(position)
                    + " is not within [0x" + Long.toHexString(consumerSeen) + ", 0x" + Long.toHexString(produced)
                    + ']');
        }
        consumerSeen = position;
        long returns = (long) LONG.getAcquire(region, RegionLayout.returnPositionOffset(tx));
        if (returns - returnsSeen < 0 || returns - returnsSeen > RegionLayout.SLICES_PER_RING) {
            throw new IOException("raw IDTS peer: acceptor's return position 0x" + Long.toHexString(returns));
        }
        for (; returnsSeen != returns; returnsSeen++) {
            int slice = (int) INT.get(region, RegionLayout.returnQueueOffset(tx)
                    + ((int) returnsSeen & RegionLayout.SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE);
            if (slice < 0 || slice >= RegionLayout.SLICES_PER_RING || !sliceGiven[slice] || slice == currentSlice) {
                throw new IOException("raw IDTS peer: acceptor returned slice " + slice + ", not one it holds");
            }
            sliceGiven[slice] = false;
        }
    }

    /** No room: WAITING_FOR_SPACE, fence, re-check, then sleep on our notification socket. */
    private void awaitSpace(long deadline) throws IOException {
        int flagsOffset = RegionLayout.producerFlagsOffset(tx);
        INT.setRelease(region, flagsOffset, FLAG_WAITING_FOR_SPACE);
        try {
            VarHandle.fullFence();
            refreshConsumer();
            if (hasSpace()) {
                return;
            }
            boolean[] ready = awaitReadable(deadline, notificationFd, socketFd);
            if (!ready[0] && !ready[1]) {
                throw new SocketTimeoutException("raw IDTS peer: the acceptor freed no space in time");
            }
            drainNotifications();
            if (ready[1]) {
                noteHangUp();
            }
        } finally {
            INT.setRelease(region, flagsOffset, 0);
        }
    }

    /**
     * Reads what ring 1 holds, up to {@code len} bytes, sleeping until something arrives.
     *
     * @return the number of bytes read (at least 1), or -1 at the end of the stream (the acceptor shut its output
     *         down or closed, and every byte before its final position was read)
     * @throws SocketTimeoutException if nothing arrives within {@code timeoutMillis}
     * @throws IOException            if the acceptor's process died without closing
     */
    public int read(byte[] dst, int off, int len, long timeoutMillis) throws IOException {
        checkConnected();
        if (len == 0) {
            return 0;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        int consumerFlagsOffset = RegionLayout.consumerFlagsOffset(rx);
        for (;;) {
            int state = readPeerState();
            refreshProducer();
            int available = pullDescriptors();
            if (available > 0) {
                return copyOut(dst, off, Math.min(len, available));
            }
            if (state >= STATE_OUTPUT_SHUTDOWN && consumed == producerSeen) {
                return -1;
            }
            if (peerHungUp) {
                throw new IOException("raw IDTS peer: the acceptor hung up without closing the ring");
            }
            INT.setRelease(region, consumerFlagsOffset, FLAG_WAITING_FOR_DATA);
            try {
                VarHandle.fullFence();
                if (readPeerState() != state || refreshProducer() != consumed) {
                    continue;
                }
                boolean[] ready = awaitReadable(deadline, notificationFd, socketFd);
                if (!ready[0] && !ready[1]) {
                    throw new SocketTimeoutException("raw IDTS peer: nothing from " + remote + " within "
                            + timeoutMillis + " ms");
                }
                drainNotifications();
                if (ready[1]) {
                    noteHangUp();
                }
            } finally {
                INT.setRelease(region, consumerFlagsOffset, 0);
            }
        }
    }

    /**
     * Reads the published descriptors that continue the slice being read (each once, validated), and returns its
     * bytes not yet copied out. A slice that ended and was read whole goes back at once.
     */
    private int pullDescriptors() throws IOException {
        int sliceSize = RegionLayout.sliceSize(layout.capacity(rx));
        while (consumed != producerSeen && (runSlice < 0 || !runEnded)) {
            long d = (long) LONG.get(region, RegionLayout.descriptorQueueOffset(rx)
                    + ((int) consumed & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE);
            int slice = RegionLayout.descriptorSlice(d);
            long length = RegionLayout.descriptorLength(d);
            boolean end = RegionLayout.isEndOfSlice(d);
            int offset = runSlice < 0 ? 0 : runEnd;
            if ((d & ~RegionLayout.DESCRIPTOR_KNOWN_BITS) != 0 || slice >= RegionLayout.SLICES_PER_RING
                    || (runSlice < 0 ? sliceHeld[slice] : slice != runSlice)
                    || length > sliceSize - offset || length == 0 && !end) {
                throw new IOException("raw IDTS peer: acceptor's descriptor 0x" + Long.toHexString(d) + " is invalid");
            }
            if (runSlice < 0) {
                runSlice = slice;
                runOffset = 0;
                runEnd = 0;
                runEnded = false;
                sliceHeld[slice] = true;
            }
            runEnd += (int) length;
            runEnded = end;
            consumed++;
            returnFinishedRun();
        }
        LONG.setRelease(region, RegionLayout.consumerPositionOffset(rx), consumed);
        return runSlice < 0 ? 0 : runEnd - runOffset;
    }

    /** The slice being read ended and was read whole: into the return queue. */
    private void returnFinishedRun() {
        if (runSlice >= 0 && runEnded && runOffset == runEnd) {
            INT.set(region, RegionLayout.returnQueueOffset(rx)
                    + ((int) returned & RegionLayout.SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE, runSlice);
            returned++;
            LONG.setRelease(region, RegionLayout.returnPositionOffset(rx), returned);
            sliceHeld[runSlice] = false;
            runSlice = -1;
        }
    }

    /** Reads exactly {@code len} bytes, or fewer if the stream ends first. */
    public int readFully(byte[] dst, int off, int len, long timeoutMillis) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        int total = 0;
        while (total < len) {
            long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            int n = read(dst, off + total, len - total, left);
            if (n < 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    private int copyOut(byte[] dst, int off, int n) throws IOException {
        int sliceSize = RegionLayout.sliceSize(layout.capacity(rx));
        region.get(layout.dataOffset(rx) + runSlice * sliceSize + runOffset, dst, off, n);
        runOffset += n;
        returnFinishedRun();
        LONG.setRelease(region, RegionLayout.consumerPositionOffset(rx), consumed);
        VarHandle.fullFence();
        int flags = (int) INT.getAcquire(region, RegionLayout.producerFlagsOffset(rx));
        if ((flags & ~RegionLayout.PRODUCER_FLAGS_KNOWN) != 0) {
            throw new IOException("raw IDTS peer: acceptor's producer flags 0x" + Integer.toHexString(flags));
        }
        if ((flags & FLAG_WAITING_FOR_SPACE) != 0) {
            NotificationSocket.signal(notificationFd);
        }
        return n;
    }

    /** The acceptor's producer state (acquire), validated: known, never decreasing. */
    private int readPeerState() throws IOException {
        int state = (int) INT.getAcquire(region, RegionLayout.producerStateOffset(rx));
        if (state < STATE_NEW || state > STATE_CLOSED || state < peerState) {
            throw new IOException("raw IDTS peer: acceptor's state " + state + " after " + peerState);
        }
        peerState = state;
        return state;
    }

    /** Loads P of ring 1 (acquire), validates it against our descriptor position and the queue; returns it. */
    private long refreshProducer() throws IOException {
        long position = (long) LONG.getAcquire(region, RegionLayout.producerPositionOffset(rx));
        long ahead = position - consumed;
        if (position - producerSeen < 0 || ahead < 0 || ahead > RegionLayout.DESCRIPTORS_PER_RING) {
            throw new IOException("raw IDTS peer: acceptor's producer position 0x" + Long.toHexString(position)
                    + " is invalid (consumer position 0x" + Long.toHexString(consumed) + ", last seen 0x"
                    + Long.toHexString(producerSeen) + ')');
        }
        producerSeen = position;
        return position;
    }

    /** Descriptors this side has published on ring 0 (its producer position). */
    public long producerPosition() {
        return produced;
    }

    /** Descriptors this side has read from ring 1 (its consumer position there). */
    public long consumerPosition() {
        return consumed;
    }

    /**
     * Hostile: stores {@code position} as this side's descriptor consumer position on ring 1, whatever it is, and
     * notifies. The acceptor's writer reads it when its descriptor queue is nearly full or it waits for space.
     */
    public void forgeConsumerPosition(long position) throws IOException {
        checkConnected();
        LONG.setRelease(region, RegionLayout.consumerPositionOffset(rx), position);
        forged();
    }

    /**
     * Hostile: stores {@code flags} as this side's consumer flags on ring 1, whatever they are, and notifies. The
     * acceptor's writer reads them after each publication. {@link #read} overwrites them.
     */
    public void forgeConsumerFlags(int flags) throws IOException {
        checkConnected();
        INT.setRelease(region, RegionLayout.consumerFlagsOffset(rx), flags);
        forged();
    }

    /**
     * Hostile: sends {@code data} on the rendezvous socket after the handshake (the protocol allows no data there),
     * with a fresh descriptor (one end of a new socket pair) in an {@code SCM_RIGHTS} message if {@code withDescriptor}.
     */
    public void sendOnRendezvousSocket(byte[] data, boolean withDescriptor) throws IOException {
        checkConnected();
        int[] pair = withDescriptor ? NotificationSocket.createPair() : new int[0];
        try {
            int sent = UnixDomainSocket.send(socketFd, data, 0, data.length,
                    withDescriptor ? new int[] { pair[0] } : new int[0]);
            if (sent != data.length) {
                throw new IOException("raw IDTS peer: sent " + sent + " of " + data.length + " bytes");
            }
        } finally {
            for (int fd : pair) {
                FileDescriptors.closeQuietly(fd);
            }
        }
    }

    /**
     * Hostile: closes this side's end of the notification socket pair and nothing else: the peer's notifications then
     * fail with {@code EPIPE}; this side can no longer wake the peer nor be woken (it stays connected).
     */
    public void closeNotificationSocket() {
        checkConnected();
        FileDescriptors.closeQuietly(notificationFd);
        notificationFd = -1;
    }

    /** Hostile: publishes {@code descriptors}, whatever they say, as the next descriptors at once, and notifies. */
    public void forgeDescriptors(long... descriptors) throws IOException {
        checkConnected();
        for (long descriptor : descriptors) {
            putDescriptor(descriptor);
        }
        LONG.setRelease(region, RegionLayout.producerPositionOffset(tx), produced);
        forged();
    }

    /** Hostile: returns {@code slice} of ring 1, whatever it is, as the next returned slice, and notifies. */
    public void forgeReturn(int slice) throws IOException {
        checkConnected();
        INT.set(region, RegionLayout.returnQueueOffset(rx)
                + ((int) returned & RegionLayout.SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE, slice);
        returned++;
        LONG.setRelease(region, RegionLayout.returnPositionOffset(rx), returned);
        forged();
    }

    /** Hostile: stores {@code position} as this side's return position on ring 1, whatever it is, and notifies. */
    public void forgeReturnPosition(long position) throws IOException {
        checkConnected();
        LONG.setRelease(region, RegionLayout.returnPositionOffset(rx), position);
        forged();
    }

    /**
     * Hostile: stores {@code position} as this side's producer position, whatever it is, and notifies. For tests of
     * the acceptor's validation.
     */
    public void forgeProducerPosition(long position) throws IOException {
        checkConnected();
        LONG.setRelease(region, RegionLayout.producerPositionOffset(tx), position);
        forged();
    }

    /** Hostile: stores {@code state} as this side's producer state, whatever it is, and notifies. */
    public void forgeProducerState(int state) throws IOException {
        checkConnected();
        INT.setRelease(region, RegionLayout.producerStateOffset(tx), state);
        forged();
    }

    /** Hostile: stores {@code flags} as this side's producer flags, whatever they are, and notifies. */
    public void forgeProducerFlags(int flags) throws IOException {
        checkConnected();
        INT.setRelease(region, RegionLayout.producerFlagsOffset(tx), flags);
        forged();
    }

    private void forged() throws IOException {
        VarHandle.fullFence();
        NotificationSocket.signal(notificationFd);
    }

    /** The acceptor's state as last seen by this peer, re-read now. */
    public int peerState() throws IOException {
        checkConnected();
        return readPeerState();
    }

    /** This side's state in the region: OPEN, OUTPUT_SHUTDOWN or CLOSED. */
    public int ownState() {
        return ownState;
    }

    /** Half-closure: state OUTPUT_SHUTDOWN (release, after the final position), then always a notification. */
    public void shutdownOutput() throws IOException {
        checkConnected();
        raiseState(STATE_OUTPUT_SHUTDOWN);
    }

    private void raiseState(int state) throws IOException {
        if (state <= ownState) {
            return;
        }
        // Every write published already; the position store precedes this release store.
        INT.setRelease(region, RegionLayout.producerStateOffset(tx), state);
        ownState = state;
        VarHandle.fullFence();
        NotificationSocket.signal(notificationFd);
    }

    /** Closing: state CLOSED, notify, then close every descriptor and unmap. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (region != null && socketFd >= 0) {
            try {
                raiseState(STATE_CLOSED);
            } catch (IOException ignored) {
                // The acceptor is gone; closing our descriptors below is all that is left.
            }
        }
        releaseResources();
    }

    private void releaseResources() {
        FileDescriptors.closeQuietly(socketFd);
        FileDescriptors.closeQuietly(notificationFd);
        socketFd = -1;
        notificationFd = -1;
        region = null;
        if (mapping != null) {
            mapping.close();
            mapping = null;
        }
    }

    private void checkConnected() {
        if (closed || region == null) {
            throw new IllegalStateException("raw IDTS peer is " + (closed ? "closed" : "not connected"));
        }
    }

    /** The rendezvous socket is readable after the handshake: the acceptor closed it (or its process died). */
    private void noteHangUp() throws IOException {
        byte[] probe = new byte[1];
        ReceivedMessage message = UnixDomainSocket.receive(socketFd, probe, 0, 1, 0);
        if (message.bytes() > 0) {
            throw new IOException("raw IDTS peer: the acceptor sent data on the rendezvous socket");
        }
        if (message.bytes() == 0) {
            peerHungUp = true;
        }
    }

    /** Reads every notification byte waiting (the acceptor's end closed: nothing more comes, the socket tells). */
    private void drainNotifications() throws NativeIoException {
        while (NotificationSocket.drain(notificationFd) > 0) {
            // Each byte is one notification; only the ring says what changed.
        }
    }

    /** poll(2) for POLLIN on {@code fd} until it is ready (or hung up) or {@code deadline} (nanoTime) passes. */
    static boolean awaitReadable(int fd, long deadline) throws IOException {
        try (Memory pollfds = new Memory(POLLFD_SIZE)) {
            for (;;) {
                pollfds.setInt(0, fd);
                pollfds.setShort(4, POLLIN);
                pollfds.setShort(6, (short) 0);
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                int timeout = (int) Math.min(Integer.MAX_VALUE, Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                int n = Poll.poll(pollfds, 1, timeout);
                if (n < 0) {
                    int errno = Native.getLastError();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    throw new NativeIoException("poll", errno);
                }
                if (n > 0) {
                    return true;
                }
            }
        }
    }

    /**
     * poll(2) for POLLIN on {@code fds} until one is ready or the deadline passes.
     *
     * @return per descriptor, whether it is readable (or hung up); all false on timeout
     */
    private boolean[] awaitReadable(long deadline, int... fds) throws IOException {
        boolean[] ready = new boolean[fds.length];
        if (peerHungUp && fds.length > 1) {
            // The socket stays readable after a hang-up: do not spin on it.
            fds = new int[] { fds[0] };
        }
        try (Memory pollfds = new Memory((long) POLLFD_SIZE * fds.length)) {
            for (;;) {
                for (int i = 0; i < fds.length; i++) {
                    pollfds.setInt((long) i * POLLFD_SIZE, fds[i]);
                    pollfds.setShort((long) i * POLLFD_SIZE + 4, POLLIN);
                    pollfds.setShort((long) i * POLLFD_SIZE + 6, (short) 0);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return ready;
                }
                int timeout = (int) Math.min(Integer.MAX_VALUE, Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                int n = Poll.poll(pollfds, fds.length, timeout);
                if (n < 0) {
                    int errno = Native.getLastError();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    throw new NativeIoException("poll", errno);
                }
                if (n > 0) {
                    for (int i = 0; i < fds.length; i++) {
                        ready[i] = pollfds.getShort((long) i * POLLFD_SIZE + 6) != 0;
                    }
                    return ready;
                }
            }
        }
    }

    @Override
    public String toString() {
        return "RawIdtsPeer(" + localName + " -> " + remote + ", sent " + produced + ", received " + consumed + ')';
    }

    /** poll(2) through JNA direct mapping; the transport's native module has no use for it. */
    private static final class Poll {
        static {
            Native.register(Poll.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
        }

        private Poll() {
        }

        static native int poll(Memory fds, long nfds, int timeout);
    }
}
