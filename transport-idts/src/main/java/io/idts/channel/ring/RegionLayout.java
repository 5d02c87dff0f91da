package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.util.internal.ObjectUtil;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The layout of a shared region, version 4 (docs/protocol.md is the normative text): every offset of every field is
 * named here and nowhere else. An instance holds the two ring capacities of one region, read from its header exactly
 * once (by {@link #initialize} or {@link #validate}), so nothing re-reads header fields the peer could change later.
 *
 * <p>A ring (one direction) is a pool of {@value #SLICES_PER_RING} equal slices of data, a descriptor queue from the
 * producer to the consumer (which bytes of which slice follow in the stream) and a return queue from the consumer
 * back (which slices it is done with). A consumer gives slices back one by one, in any order: a buffer a handler
 * keeps pins its slice and nothing else.
 *
 * <pre>
 * offset  size  field
 * 0       4     magic 0x49445453 ("IDTS")
 * 4       4     version = 4
 * 8       4     capacity of ring 0 (connector -&gt; acceptor): its data bytes, SLICES_PER_RING slices
 * 12      4     capacity of ring 1 (acceptor -&gt; connector)
 * 16      8     region size = DATA_OFFSET + cap0 + cap1
 * 128     ring 0 producer line (connector): +0 u64 descriptor position, +8 u32 state, +64 u32 flags
 * 256     ring 0 consumer line (acceptor):  +0 u64 descriptor position, +16 u64 return position, +64 u32 flags
 * 384     ring 1 producer line (acceptor)
 * 512     ring 1 consumer line (connector)
 * 1024    ring 0 return queue (acceptor): SLICES_PER_RING u32 slice indexes
 * 1280    ring 1 return queue (connector)
 * 4096    ring 0 descriptor queue (connector): DESCRIPTORS_PER_RING u64 descriptors
 * 12288   ring 1 descriptor queue (acceptor)
 * 20480   ring 0 data (cap0 bytes), then ring 1 data (cap1 bytes)
 * </pre>
 */
public final class RegionLayout {

    public static final int MAGIC = 0x49445453; // "IDTS"
    public static final int VERSION = 4;

    /** Slices of each ring's data: a power of two, and at most 64 so that a set of slices fits a {@code long}. */
    public static final int SLICES_PER_RING = 64;
    /** Entries of each descriptor queue: a power of two. */
    public static final int DESCRIPTORS_PER_RING = 1024;
    public static final int DESCRIPTOR_SIZE = Long.BYTES;
    public static final int RETURN_ENTRY_SIZE = Integer.BYTES;

    // A page, so that both data rings stay page aligned (the Xen backend shares whole pages); slices are then at
    // least 64 bytes, a cache line.
    public static final int MIN_RING_CAPACITY = 4096;
    // Small enough that the whole region (DATA_OFFSET + 2 * max) fits a ByteBuffer, whose size is an int.
    public static final int MAX_RING_CAPACITY = 1 << 28;
    public static final int DEFAULT_RING_CAPACITY = 16 << 20;

    /** The ring the connector produces and the acceptor consumes. */
    public static final int RING_CONNECTOR_TO_ACCEPTOR = 0;
    /** The ring the acceptor produces and the connector consumes. */
    public static final int RING_ACCEPTOR_TO_CONNECTOR = 1;

    /** The ring the given side writes: the connector's is {@link #RING_CONNECTOR_TO_ACCEPTOR}. */
    public static int transmitRing(boolean connector) {
        return connector ? RING_CONNECTOR_TO_ACCEPTOR : RING_ACCEPTOR_TO_CONNECTOR;
    }

    /** The ring the given side reads: the connector's is {@link #RING_ACCEPTOR_TO_CONNECTOR}. */
    public static int receiveRing(boolean connector) {
        return connector ? RING_ACCEPTOR_TO_CONNECTOR : RING_CONNECTOR_TO_ACCEPTOR;
    }

    // Header: written by the connector before the region is shared, read-only afterwards.
    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 4;
    public static final int RING_0_CAPACITY_OFFSET = 8;
    public static final int RING_1_CAPACITY_OFFSET = 12;
    public static final int REGION_SIZE_OFFSET = 16;

    // Control lines. 128 bytes apart (a cache line plus the neighbour the adjacent-line prefetcher pulls in) so that
    // the two endpoints never write the same line; each line has exactly one writer.
    public static final int LINE_SIZE = 128;
    public static final int RING_0_PRODUCER_LINE = LINE_SIZE;
    public static final int RING_0_CONSUMER_LINE = RING_0_PRODUCER_LINE + LINE_SIZE;
    public static final int RING_1_PRODUCER_LINE = RING_0_CONSUMER_LINE + LINE_SIZE;
    public static final int RING_1_CONSUMER_LINE = RING_1_PRODUCER_LINE + LINE_SIZE;

    // Fields within a line. The flags sit in the line's second 64-byte cache line, apart from the positions: a
    // position changes with every publication or read, a flag only when its endpoint goes to sleep or wakes, so the
    // peer's read of a flag after every publication (or release) hits its own cache instead of fetching the line the
    // position store just took away (protocol version 4; in version 3 that cost a cross-core miss per message).
    public static final int FLAGS_HALF = 64;
    // Fields within a producer line.
    public static final int PRODUCER_POSITION = 0;         // u64: descriptors published
    public static final int PRODUCER_STATE = 8;            // u32
    public static final int PRODUCER_FLAGS = FLAGS_HALF;   // u32
    // Fields within a consumer line.
    public static final int CONSUMER_POSITION = 0;         // u64: descriptors read
    public static final int RETURN_POSITION = 16;          // u64: slices returned
    public static final int CONSUMER_FLAGS = FLAGS_HALF;   // u32

    /** Size of one return queue: written by the ring's consumer only, on lines of its own. */
    public static final int RETURN_QUEUE_SIZE = SLICES_PER_RING * RETURN_ENTRY_SIZE;
    public static final int RING_0_RETURN_QUEUE = 1024;
    public static final int RING_1_RETURN_QUEUE = RING_0_RETURN_QUEUE + RETURN_QUEUE_SIZE;

    /** Size of the control page: the header, the lines and the return queues. */
    public static final int CONTROL_SIZE = 4096;
    /** Size of one descriptor queue: written by the ring's producer only, whole pages. */
    public static final int DESCRIPTOR_QUEUE_SIZE = DESCRIPTORS_PER_RING * DESCRIPTOR_SIZE;
    public static final int RING_0_DESCRIPTOR_QUEUE = CONTROL_SIZE;
    public static final int RING_1_DESCRIPTOR_QUEUE = RING_0_DESCRIPTOR_QUEUE + DESCRIPTOR_QUEUE_SIZE;

    /** Start of ring 0's data; everything before it is control (header, lines, queues). Page aligned. */
    public static final int DATA_OFFSET = RING_1_DESCRIPTOR_QUEUE + DESCRIPTOR_QUEUE_SIZE;

    // A descriptor is one u64: bits 0-31 the length, bits 32-47 the slice, bit 63 END_OF_SLICE; the rest reserved.
    public static final int DESCRIPTOR_SLICE_SHIFT = 32;
    public static final long DESCRIPTOR_LENGTH_MASK = 0xffff_ffffL;
    public static final long DESCRIPTOR_SLICE_MASK = 0xffffL << DESCRIPTOR_SLICE_SHIFT;
    /** Descriptor bit: the producer writes nothing more to this slice; the consumer returns it once done with it. */
    public static final long DESCRIPTOR_END_OF_SLICE = 1L << 63;
    public static final long DESCRIPTOR_KNOWN_BITS =
            DESCRIPTOR_LENGTH_MASK | DESCRIPTOR_SLICE_MASK | DESCRIPTOR_END_OF_SLICE;

    // Producer states: the producing endpoint's connection state. They only ever increase.
    public static final int STATE_NEW = 0;             // only the acceptor's, until it accepts
    public static final int STATE_OPEN = 1;
    public static final int STATE_OUTPUT_SHUTDOWN = 2; // no descriptor will follow the current producer position
    public static final int STATE_CLOSED = 3;

    /** Producer flag: the writer sleeps until the consumer reads descriptors or returns slices. */
    public static final int FLAG_WAITING_FOR_SPACE = 1;
    /** Consumer flag: the reader sleeps until the producer publishes. */
    public static final int FLAG_WAITING_FOR_DATA = 1;
    // Every other flag bit is reserved; a peer that sets one breaks the protocol.
    public static final int PRODUCER_FLAGS_KNOWN = FLAG_WAITING_FOR_SPACE;
    public static final int CONSUMER_FLAGS_KNOWN = FLAG_WAITING_FOR_DATA;

    // Both endpoints are on one machine, so every integer is in native order. These views are the only way the
    // control area is accessed: they give the acquire/release/volatile modes a peer in another process relies on.
    public static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    public static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

    /** A descriptor of {@code length} bytes of {@code slice}, the last of the slice if {@code endOfSlice}. */
    public static long descriptor(int slice, int length, boolean endOfSlice) {
        return (long) slice << DESCRIPTOR_SLICE_SHIFT | length & DESCRIPTOR_LENGTH_MASK
                | (endOfSlice ? DESCRIPTOR_END_OF_SLICE : 0);
    }

    public static int descriptorSlice(long descriptor) {
        return (int) ((descriptor & DESCRIPTOR_SLICE_MASK) >>> DESCRIPTOR_SLICE_SHIFT);
    }

    public static long descriptorLength(long descriptor) {
        return descriptor & DESCRIPTOR_LENGTH_MASK;
    }

    public static boolean isEndOfSlice(long descriptor) {
        return (descriptor & DESCRIPTOR_END_OF_SLICE) != 0;
    }

    /** The size of each slice of a ring of {@code capacity} bytes. */
    public static int sliceSize(int capacity) {
        return checkCapacity(capacity) / SLICES_PER_RING;
    }

    private final int capacity0;
    private final int capacity1;

    private RegionLayout(int capacity0, int capacity1) {
        this.capacity0 = capacity0;
        this.capacity1 = capacity1;
    }

    /**
     * Checks a ring capacity.
     *
     * @return {@code capacity}
     * @throws IllegalArgumentException unless it is a power of two in [MIN_RING_CAPACITY, MAX_RING_CAPACITY]
     */
    public static int checkCapacity(int capacity) {
        if (!isValidCapacity(capacity)) {
            throw new IllegalArgumentException("ring capacity " + capacity + " must be a power of two between "
                    + MIN_RING_CAPACITY + " and " + MAX_RING_CAPACITY);
        }
        return capacity;
    }

    /** Whether {@code capacity} is a power of two in [MIN_RING_CAPACITY, MAX_RING_CAPACITY]. */
    public static boolean isValidCapacity(int capacity) {
        return capacity >= MIN_RING_CAPACITY && capacity <= MAX_RING_CAPACITY && (capacity & capacity - 1) == 0;
    }

    /** The size of a region with these capacities: {@code DATA_OFFSET + cap0 + cap1}. */
    public static long regionSize(int capacity0, int capacity1) {
        return (long) DATA_OFFSET + checkCapacity(capacity0) + checkCapacity(capacity1);
    }

    /**
     * The connector's side: zeroes the control area of a freshly created region, writes the header, sets the
     * connector's producer state to OPEN and the acceptor's to NEW. Call before the region is shared.
     *
     * @param region the whole mapping, exactly {@link #regionSize} bytes
     */
    public static RegionLayout initialize(ByteBuffer region, int capacity0, int capacity1) {
        ObjectUtil.checkNotNull(region, "region");
        long size = regionSize(capacity0, capacity1);
        checkMappedSize(region, size);
        // The control area and both queues: a descriptor or a returned slice the peer reads is always one we wrote.
        for (int offset = 0; offset < DATA_OFFSET; offset += Long.BYTES) {
            LONG.set(region, offset, 0L);
        }
        INT.set(region, MAGIC_OFFSET, MAGIC);
        INT.set(region, VERSION_OFFSET, VERSION);
        INT.set(region, RING_0_CAPACITY_OFFSET, capacity0);
        INT.set(region, RING_1_CAPACITY_OFFSET, capacity1);
        LONG.set(region, REGION_SIZE_OFFSET, size);
        for (int ring = RING_CONNECTOR_TO_ACCEPTOR; ring <= RING_ACCEPTOR_TO_CONNECTOR; ring++) {
            INT.set(region, producerStateOffset(ring), initialProducerState(ring));
        }
        // Sharing the region goes through a system call, which orders these stores anyway; the fence says so.
        VarHandle.fullFence();
        return new RegionLayout(capacity0, capacity1);
    }

    /**
     * The acceptor's side: checks the header the connector wrote against the mapping it received. Each header field
     * is read once; the returned layout holds the values checked.
     *
     * @param region the whole mapping, as mapped: its capacity is the actual size
     * @throws IdtsProtocolException naming the first header field that is wrong
     */
    public static RegionLayout validate(ByteBuffer region) throws IdtsProtocolException {
        ObjectUtil.checkNotNull(region, "region");
        int mapped = region.capacity();
        if (mapped < DATA_OFFSET) {
            throw new IdtsProtocolException("mapped region of " + mapped
                    + " bytes is smaller than the control area (" + DATA_OFFSET + " bytes)");
        }
        int magic = (int) INT.getVolatile(region, MAGIC_OFFSET);
        int version = (int) INT.getVolatile(region, VERSION_OFFSET);
        int capacity0 = (int) INT.getVolatile(region, RING_0_CAPACITY_OFFSET);
        int capacity1 = (int) INT.getVolatile(region, RING_1_CAPACITY_OFFSET);
        long size = (long) LONG.getVolatile(region, REGION_SIZE_OFFSET);
        if (magic != MAGIC) {
            throw new IdtsProtocolException(String.format(
                    "region magic 0x%08x is not 0x%08x (\"IDTS\")", magic, MAGIC));
        }
        if (version != VERSION) {
            throw new IdtsProtocolException("region version " + Integer.toUnsignedString(version)
                    + " is not the supported version " + VERSION + " (both ends must run IDTS releases of the same "
                    + "protocol version)");
        }
        checkHeaderCapacity(0, capacity0);
        checkHeaderCapacity(1, capacity1);
        long expected = (long) DATA_OFFSET + capacity0 + capacity1;
        if (size != expected) {
            throw new IdtsProtocolException("region size field " + Long.toUnsignedString(size)
                    + " is not DATA_OFFSET + capacity of ring 0 + capacity of ring 1 = " + expected);
        }
        if (mapped != expected) {
            throw new IdtsProtocolException("mapped region size " + mapped
                    + " is not the region size in the header, " + expected);
        }
        return new RegionLayout(capacity0, capacity1);
    }

    private static void checkHeaderCapacity(int ring, int capacity) throws IdtsProtocolException {
        if (!isValidCapacity(capacity)) {
            throw new IdtsProtocolException("capacity of ring " + ring + ' ' + Integer.toUnsignedString(capacity)
                    + " is not a power of two between " + MIN_RING_CAPACITY + " and " + MAX_RING_CAPACITY);
        }
    }

    /** Rejects a region (given to a constructor) that is not the mapping this layout describes. */
    public static void checkMappedSize(ByteBuffer region, long size) {
        if (region.capacity() != size) {
            throw new IllegalArgumentException(
                    "region of " + region.capacity() + " bytes does not match the layout's size " + size);
        }
    }

    public static int checkRing(int ring) {
        if (ring != RING_CONNECTOR_TO_ACCEPTOR && ring != RING_ACCEPTOR_TO_CONNECTOR) {
            throw new IllegalArgumentException("ring " + ring + " is neither "
                    + RING_CONNECTOR_TO_ACCEPTOR + " nor " + RING_ACCEPTOR_TO_CONNECTOR);
        }
        return ring;
    }

    /**
     * The state a ring's producer starts in: the connector is OPEN from the moment it creates the region, the
     * acceptor NEW until it accepts.
     */
    public static int initialProducerState(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? STATE_OPEN : STATE_NEW;
    }

    public static int producerLineOffset(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? RING_0_PRODUCER_LINE : RING_1_PRODUCER_LINE;
    }

    public static int consumerLineOffset(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? RING_0_CONSUMER_LINE : RING_1_CONSUMER_LINE;
    }

    public static int producerPositionOffset(int ring) {
        return producerLineOffset(ring) + PRODUCER_POSITION;
    }

    public static int producerStateOffset(int ring) {
        return producerLineOffset(ring) + PRODUCER_STATE;
    }

    public static int producerFlagsOffset(int ring) {
        return producerLineOffset(ring) + PRODUCER_FLAGS;
    }

    public static int consumerPositionOffset(int ring) {
        return consumerLineOffset(ring) + CONSUMER_POSITION;
    }

    public static int consumerFlagsOffset(int ring) {
        return consumerLineOffset(ring) + CONSUMER_FLAGS;
    }

    public static int returnPositionOffset(int ring) {
        return consumerLineOffset(ring) + RETURN_POSITION;
    }

    public static int returnQueueOffset(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? RING_0_RETURN_QUEUE : RING_1_RETURN_QUEUE;
    }

    public static int descriptorQueueOffset(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? RING_0_DESCRIPTOR_QUEUE : RING_1_DESCRIPTOR_QUEUE;
    }

    public static String stateName(int state) {
        switch (state) {
            case STATE_NEW:
                return "NEW";
            case STATE_OPEN:
                return "OPEN";
            case STATE_OUTPUT_SHUTDOWN:
                return "OUTPUT_SHUTDOWN";
            case STATE_CLOSED:
                return "CLOSED";
            default:
                return "unknown state " + Integer.toUnsignedString(state);
        }
    }

    public int capacity(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? capacity0 : capacity1;
    }

    /** Where the ring's data starts in the region. */
    public int dataOffset(int ring) {
        return checkRing(ring) == RING_CONNECTOR_TO_ACCEPTOR ? DATA_OFFSET : DATA_OFFSET + capacity0;
    }

    public long size() {
        return (long) DATA_OFFSET + capacity0 + capacity1;
    }

    @Override
    public String toString() {
        return "RegionLayout(v" + VERSION + ", capacity 0: " + capacity0 + ", capacity 1: " + capacity1
                + ", size: " + size() + ')';
    }
}
