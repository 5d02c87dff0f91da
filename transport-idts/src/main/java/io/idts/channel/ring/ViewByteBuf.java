package io.idts.channel.ring;

import io.netty.buffer.AbstractReferenceCountedByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.internal.ObjectPool;
import io.netty.util.internal.PlatformDependent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ScatteringByteChannel;

/**
 * A fixed-size {@link ByteBuf} over a contiguous run of one ring's data, inside one slice: a view of received bytes
 * (zero-copy reads) or a claim of free transmit space (zero-copy writes). Never grows. Every access is bounded by the
 * view's capacity, and the view by the ring (its {@code memory} is exactly the ring's data), so no index can reach
 * outside the ring.
 *
 * <p>Both kinds are writable, as every inbound buffer of Netty's own transports is: handlers may write into what they
 * read (the JDK's {@code SSLEngine} decrypts TLS 1.3 records in place, in the buffer it was given). A view's bytes are
 * the reader's until it releases them: their slice is not returned to the peer before, so the peer may neither write
 * them nor (by the protocol) read them back, and writing them changes nothing the peer
 * sees. A hostile peer may still write them at any time, writes included; that is the same hazard as for reads, and
 * why zero-copy reads are for trusted peers only.
 *
 * <p>While its reference count is positive the view holds a reference to the shared region (its {@link Owner} took
 * it), so the mapping cannot be unmapped under it. When the count drops to zero the view tells its owner (on the
 * releasing thread), forgets the memory and goes back to its pool: a stale reference then fails with
 * {@code IllegalReferenceCountException} (Netty's accessibility check) or, at worst, a {@code NullPointerException};
 * it never touches memory that may be unmapped.
 */
public final class ViewByteBuf extends AbstractReferenceCountedByteBuf {

    /** Told when a view's reference count drops to zero; may be called on any thread. */
    public interface Owner {
        /**
         * @param token what the owner gave {@link #init}: the slice of a view, the number of a claim
         */
        void released(ViewByteBuf buf, long token);
    }

    private static final boolean UNSAFE = PlatformDependent.hasUnsafe();
    /** Multi-byte reads straight from the address: where Unsafe may read unaligned values (x86-64, aarch64). */
    private static final boolean UNALIGNED_READS = UNSAFE && PlatformDependent.isUnaligned();

    private static final ObjectPool<ViewByteBuf> READ_VIEWS = ObjectPool.newPool(ViewByteBuf::new);

    private final ObjectPool.Handle<ViewByteBuf> handle;
    private ByteBuffer memory;
    private long address;
    private int offset;
    private int length;
    private ByteBufAllocator alloc;
    private Owner owner;
    private long token;

    private ViewByteBuf(ObjectPool.Handle<ViewByteBuf> handle) {
        super(0);
        this.handle = handle;
    }

    /** A new, unpooled buffer (the channel keeps one for its transmit claims). */
    public static ViewByteBuf unpooled() {
        return new ViewByteBuf(null);
    }

    /** A pooled view; {@link #init} it. */
    static ViewByteBuf pooledView() {
        return READ_VIEWS.get();
    }

    /**
     * Points this buffer at {@code length} bytes of {@code ringMemory} from {@code offset}: reader index 0, writer
     * index 0 for a claim (to be filled), {@code length} for a view (filled by the peer); reference count 1.
     *
     * @param ringMemory exactly one ring's data, writable, big-endian, position 0
     * @param ringAddress its native address, or 0 if unknown
     */
    public ViewByteBuf init(ByteBuffer ringMemory, long ringAddress, int offset, int length, boolean claim,
                            ByteBufAllocator alloc, Owner owner, long token) {
        if (ringMemory.isReadOnly()) {
            throw new IllegalArgumentException("ring memory must be writable");
        }
        if (offset < 0 || length < 0 || offset > ringMemory.capacity() - length) {
            throw new IndexOutOfBoundsException("view " + offset + "+" + length + " outside a ring of "
                    + ringMemory.capacity() + " bytes");
        }
        this.memory = ringMemory;
        this.address = UNSAFE ? ringAddress : 0;
        this.offset = offset;
        this.length = length;
        this.alloc = alloc;
        this.owner = owner;
        this.token = token;
        maxCapacity(length);
        resetRefCnt();
        setIndex(0, claim ? 0 : length);
        markReaderIndex();
        markWriterIndex();
        return this;
    }

    @Override
    protected void deallocate() {
        Owner owner = this.owner;
        long token = this.token;
        this.owner = null;
        this.memory = null;
        this.address = 0;
        this.alloc = null;
        if (handle != null) {
            handle.recycle(this);
        }
        if (owner != null) {
            owner.released(this, token);
        }
    }

    private int at(int index) {
        return offset + index;
    }

    /**
     * The address of byte {@code index}, for the accessors' fast path (0 without Unsafe). AbstractByteBuf checks every
     * index against the capacity before it calls an accessor, so the address is always within the view's bytes.
     */
    private long addressOf(int index) {
        return address + offset + index;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    /**
     * Discards nothing (the contract allows it): moving the bytes down would only copy within the ring, since a view's
     * space is given back to the peer when the view is released, not when its bytes are discarded (and a claim
     * commits from index 0). A cumulation that is a view then stays full, and the next read makes a new cumulation
     * instead of writing into the ring.
     */
    @Override
    public ByteBuf discardSomeReadBytes() {
        return this;
    }

    @Override
    public boolean isContiguous() {
        return true;
    }

    @Override
    public int capacity() {
        return length;
    }

    /**
     * Can only shrink (the maximum capacity shrinks with it): the bytes past the new capacity stay the reader's or
     * the writer's until the buffer is released, and are never reachable again through it.
     */
    @Override
    public ByteBuf capacity(int newCapacity) {
        checkNewCapacity(newCapacity);
        if (newCapacity < length) {
            length = newCapacity;
            maxCapacity(newCapacity);
            trimIndicesToCapacity(newCapacity);
        }
        return this;
    }

    @Override
    public ByteBufAllocator alloc() {
        return alloc;
    }

    @Override
    @Deprecated
    public ByteOrder order() {
        return ByteOrder.BIG_ENDIAN;
    }

    @Override
    public ByteBuf unwrap() {
        return null;
    }

    @Override
    public boolean isDirect() {
        return true;
    }

    // Reads. The ring memory is big-endian: Netty's default order.

    @Override
    protected byte _getByte(int index) {
        return address != 0 ? PlatformDependent.getByte(addressOf(index)) : memory.get(at(index));
    }

    @Override
    protected short _getShort(int index) {
        return memory.getShort(at(index));
    }

    @Override
    protected short _getShortLE(int index) {
        return Short.reverseBytes(memory.getShort(at(index)));
    }

    @Override
    protected int _getUnsignedMedium(int index) {
        int i = at(index);
        return (memory.get(i) & 0xff) << 16 | (memory.get(i + 1) & 0xff) << 8 | memory.get(i + 2) & 0xff;
    }

    @Override
    protected int _getUnsignedMediumLE(int index) {
        int i = at(index);
        return memory.get(i) & 0xff | (memory.get(i + 1) & 0xff) << 8 | (memory.get(i + 2) & 0xff) << 16;
    }

    @Override
    protected int _getInt(int index) {
        if (UNALIGNED_READS && address != 0) {
            int value = PlatformDependent.getInt(addressOf(index));
            return PlatformDependent.BIG_ENDIAN_NATIVE_ORDER ? value : Integer.reverseBytes(value);
        }
        return memory.getInt(at(index));
    }

    @Override
    protected int _getIntLE(int index) {
        return Integer.reverseBytes(memory.getInt(at(index)));
    }

    @Override
    protected long _getLong(int index) {
        // The reads a parser makes most, 8 bytes at a time: straight from the address, as Netty's direct buffers do.
        if (UNALIGNED_READS && address != 0) {
            long value = PlatformDependent.getLong(addressOf(index));
            return PlatformDependent.BIG_ENDIAN_NATIVE_ORDER ? value : Long.reverseBytes(value);
        }
        return memory.getLong(at(index));
    }

    @Override
    protected long _getLongLE(int index) {
        return Long.reverseBytes(memory.getLong(at(index)));
    }

    @Override
    public ByteBuf getBytes(int index, ByteBuf dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.capacity());
        if (length == 0) {
            return this;
        }
        if (address != 0 && dst.hasMemoryAddress()) {
            PlatformDependent.copyMemory(address + at(index), dst.memoryAddress() + dstIndex, length);
        } else if (dst.hasArray()) {
            memory.get(at(index), dst.array(), dst.arrayOffset() + dstIndex, length);
        } else {
            dst.setBytes(dstIndex, memory.slice(at(index), length));
        }
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, byte[] dst, int dstIndex, int length) {
        checkDstIndex(index, length, dstIndex, dst.length);
        memory.get(at(index), dst, dstIndex, length);
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, ByteBuffer dst) {
        int length = dst.remaining();
        checkIndex(index, length);
        dst.put(dst.position(), memory, at(index), length);
        dst.position(dst.position() + length);
        return this;
    }

    @Override
    public ByteBuf getBytes(int index, OutputStream out, int length) throws IOException {
        checkIndex(index, length);
        if (length == 0) {
            return this;
        }
        byte[] tmp = new byte[Math.min(length, 8192)];
        for (int done = 0; done < length; ) {
            int n = Math.min(tmp.length, length - done);
            memory.get(at(index + done), tmp, 0, n);
            out.write(tmp, 0, n);
            done += n;
        }
        return this;
    }

    @Override
    public int getBytes(int index, GatheringByteChannel out, int length) throws IOException {
        checkIndex(index, length);
        return length == 0 ? 0 : out.write(memory.slice(at(index), length));
    }

    @Override
    public int getBytes(int index, FileChannel out, long position, int length) throws IOException {
        checkIndex(index, length);
        return length == 0 ? 0 : out.write(memory.slice(at(index), length), position);
    }

    // Writes.

    @Override
    protected void _setByte(int index, int value) {
        memory.put(at(index), (byte) value);
    }

    @Override
    protected void _setShort(int index, int value) {
        memory.putShort(at(index), (short) value);
    }

    @Override
    protected void _setShortLE(int index, int value) {
        memory.putShort(at(index), Short.reverseBytes((short) value));
    }

    @Override
    protected void _setMedium(int index, int value) {
        int i = at(index);
        memory.put(i, (byte) (value >>> 16));
        memory.put(i + 1, (byte) (value >>> 8));
        memory.put(i + 2, (byte) value);
    }

    @Override
    protected void _setMediumLE(int index, int value) {
        int i = at(index);
        memory.put(i, (byte) value);
        memory.put(i + 1, (byte) (value >>> 8));
        memory.put(i + 2, (byte) (value >>> 16));
    }

    @Override
    protected void _setInt(int index, int value) {
        memory.putInt(at(index), value);
    }

    @Override
    protected void _setIntLE(int index, int value) {
        memory.putInt(at(index), Integer.reverseBytes(value));
    }

    @Override
    protected void _setLong(int index, long value) {
        memory.putLong(at(index), value);
    }

    @Override
    protected void _setLongLE(int index, long value) {
        memory.putLong(at(index), Long.reverseBytes(value));
    }

    @Override
    public ByteBuf setBytes(int index, ByteBuf src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.capacity());
        if (length == 0) {
            return this;
        }
        if (address != 0 && src.hasMemoryAddress()) {
            PlatformDependent.copyMemory(src.memoryAddress() + srcIndex, address + at(index), length);
        } else if (src.hasArray()) {
            memory.put(at(index), src.array(), src.arrayOffset() + srcIndex, length);
        } else {
            src.getBytes(srcIndex, memory.slice(at(index), length));
        }
        return this;
    }

    @Override
    public ByteBuf setBytes(int index, byte[] src, int srcIndex, int length) {
        checkSrcIndex(index, length, srcIndex, src.length);
        memory.put(at(index), src, srcIndex, length);
        return this;
    }

    @Override
    public ByteBuf setBytes(int index, ByteBuffer src) {
        int length = src.remaining();
        checkIndex(index, length);
        memory.put(at(index), src, src.position(), length);
        src.position(src.position() + length);
        return this;
    }

    @Override
    public int setBytes(int index, InputStream in, int length) throws IOException {
        checkIndex(index, length);
        byte[] tmp = new byte[Math.min(Math.max(length, 1), 8192)];
        int done = 0;
        while (done < length) {
            int n = in.read(tmp, 0, Math.min(tmp.length, length - done));
            if (n < 0) {
                return done == 0 ? -1 : done;
            }
            memory.put(at(index + done), tmp, 0, n);
            done += n;
        }
        return done;
    }

    @Override
    public int setBytes(int index, ScatteringByteChannel in, int length) throws IOException {
        checkIndex(index, length);
        return in.read(memory.slice(at(index), length));
    }

    @Override
    public int setBytes(int index, FileChannel in, long position, int length) throws IOException {
        checkIndex(index, length);
        return in.read(memory.slice(at(index), length), position);
    }

    // Conversions.

    @Override
    public ByteBuf copy(int index, int length) {
        checkIndex(index, length);
        ByteBuf copy = alloc.directBuffer(length);
        copy.writeBytes(this, index, length);
        return copy;
    }

    @Override
    public int nioBufferCount() {
        return 1;
    }

    @Override
    public ByteBuffer nioBuffer(int index, int length) {
        checkIndex(index, length);
        return memory.slice(at(index), length);
    }

    @Override
    public ByteBuffer internalNioBuffer(int index, int length) {
        return nioBuffer(index, length);
    }

    @Override
    public ByteBuffer[] nioBuffers(int index, int length) {
        return new ByteBuffer[] { nioBuffer(index, length) };
    }

    @Override
    public boolean hasArray() {
        return false;
    }

    @Override
    public byte[] array() {
        throw new UnsupportedOperationException("a view of shared memory has no backing array");
    }

    @Override
    public int arrayOffset() {
        throw new UnsupportedOperationException("a view of shared memory has no backing array");
    }

    @Override
    public boolean hasMemoryAddress() {
        return address != 0;
    }

    @Override
    public long memoryAddress() {
        ensureAccessible();
        if (address == 0) {
            throw new UnsupportedOperationException();
        }
        return address + offset;
    }
}
