package io.idts.microbench;

import io.idts.channel.IdtsProtocolException;
import io.idts.channel.ring.SliceViews;
import io.idts.channel.ring.ViewByteBuf;
import io.idts.channel.ring.RegionLayout;
import io.idts.channel.ring.RingReader;
import io.idts.channel.ring.RingWriter;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.internal.PlatformDependent;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * JMH benchmarks of zero copy on the ring alone (one thread, no channel, no event loop), per message size, each
 * against the copying way it replaces. Every benchmark reports messages per second and, as the secondary result
 * {@code bytes}, payload bytes per second; run with {@code -prof gc} for the allocation rate per message
 * ({@code gc.alloc.rate.norm}).
 * <ul>
 *   <li>{@code readView}: what the channel does with zero-copy reads on: {@link SliceViews#canView},
 *       {@link SliceViews#take} of one message as a view, then its release, which unpins its slice; the release of the
 *       view that leaves a slice unused returns it (on the "event loop", so at once). The payload is not touched: the handler
 *       that reads it pays for that, with or without a copy.</li>
 *   <li>{@code readCopy}: what it does with zero-copy reads off: a buffer of {@code size} from the pooled allocator,
 *       {@link RingReader#read} of one message into it (one copy), {@link RingReader#release}, and the release of the
 *       buffer by the handler.</li>
 *   <li>{@code writeCopy}: an encoder's message written as usual: the encoder fills a pooled buffer (from a
 *       {@code byte[]}), {@link RingWriter#write} copies it into the ring and {@link RingWriter#publish}es, the buffer
 *       is released.</li>
 *   <li>{@code writeClaim}: the same message through a transmit claim, as {@code IdtsChannel.claim}/{@code commit}
 *       make it: the encoder fills the claim (a {@link ViewByteBuf} over the ring) straight from the {@code byte[]},
 *       {@link RingWriter#commit} and {@link RingWriter#publish}.</li>
 * </ul>
 * Reads never wait for a producer: when less than a message is readable, a simulated producer fills every free slice
 * at once (committed claims: descriptors only, the bytes are stale). Writes never wait for a consumer: when the ring
 * has no room for a message, the consumer takes everything at once without copying and returns the slices. Both are amortised over
 * {@code capacity / size} messages.
 *
 * <p>Run: {@code bash microbench/bench jmh RingZeroCopyBenchmark -prof gc} (JMH's own options follow).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = { "-Xms512m", "-Xmx512m", "-Dio.netty.leakDetection.level=disabled",
        "-Djmh.executor=CUSTOM", "-Djmh.executor.class=io.idts.microbench.RingZeroCopyBenchmark$EventLoopThreads" })
public class RingZeroCopyBenchmark {

    /**
     * JMH's worker threads as Netty's event loop threads are: {@link FastThreadLocalThread}s. Netty's recycler pools
     * objects (views among them) and its pooled allocator caches buffers only on such threads; on JMH's own threads
     * every view and every buffer object would be new, which no channel sees.
     */
    public static final class EventLoopThreads extends ThreadPoolExecutor {
        public EventLoopThreads(int threads, String prefix) {
            super(threads, threads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                    new DefaultThreadFactory(prefix, true));
        }
    }

    /** Ring 0 (connector to acceptor): the ring the benchmarks use. */
    private static final int RING = RegionLayout.RING_CONNECTOR_TO_ACCEPTOR;

    /** One connection's region, its writer and reader, the reader's views and the message's source bytes. */
    @State(Scope.Thread)
    public static class Ring {
        @Param({ "64", "1024", "16384", "65536" })
        public int size;

        // 64 KiB slices: every message size fits a slice, and a view lies in one slice.
        @Param({ "4194304" })
        public int capacity;

        ByteBuffer region;
        RingWriter writer;
        RingReader reader;
        SliceViews views;
        int maxPinnedSlices;
        final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
        byte[] payload;
        ViewByteBuf claim;
        long claimAddress;
        /** The region's lifetime, as {@code RegionLifetime}'s: the views and every claim retain it while they live. */
        final ReferenceCounted lifetime = new AbstractReferenceCounted() {
            @Override
            protected void deallocate() {
            }

            @Override
            public ReferenceCounted touch(Object hint) {
                return this;
            }
        };
        final ViewByteBuf.Owner claimOwner = (buf, token) -> lifetime.release();

        @Setup(Level.Trial)
        public void setUp() {
            if (!FastThreadLocalThread.currentThreadHasFastThreadLocal()) {
                throw new IllegalStateException("not run on a FastThreadLocalThread: " + Thread.currentThread());
            }
            region = ByteBuffer.allocateDirect((int) RegionLayout.regionSize(capacity, capacity));
            RegionLayout layout = RegionLayout.initialize(region, capacity, capacity);
            writer = new RingWriter(region, layout, RING);
            reader = new RingReader(region, layout, RING);
            // As IdtsChannel does: views released on the event loop publish the consumer position at once.
            views = new SliceViews(reader, lifetime, ImmediateEventExecutor.INSTANCE, this::publishReleased);
            maxPinnedSlices = RegionLayout.SLICES_PER_RING / 2;
            payload = new byte[size];
            for (int i = 0; i < size; i++) {
                payload[i] = (byte) i;
            }
            claim = ViewByteBuf.unpooled();
            claimAddress = PlatformDependent.hasUnsafe()
                    ? PlatformDependent.directBufferAddress(writer.claimMemory()) : 0;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            views.close();
            if (reader.pinnedSlices() != 0 || lifetime.refCnt() != 1) {
                throw new IllegalStateException("views or claims not released");
            }
        }

        private void publishReleased() {
            try {
                reader.release();
            } catch (IdtsProtocolException e) {
                throw new IllegalStateException(e);
            }
        }

        /**
         * Makes a message readable: when less is left, a simulated producer fills every free slice at once (claims
         * committed whole, one descriptor per slice; the bytes are stale, nothing is copied).
         */
        void ensureReadable() throws IdtsProtocolException {
            if (reader.readableBytes() < size) {
                reader.release();
                int n;
                while ((n = writer.contiguousWritableBytes(writer.sliceSize())) > 0) {
                    writer.commit(n);
                }
                writer.publish();
                if (reader.readableBytes() < size) {
                    throw new IllegalStateException("nothing readable after the producer filled the ring");
                }
            }
        }

        /** Makes room for a message, contiguous: the consumer frees the whole ring (no copy) when there is none. */
        void ensureWritable() throws IdtsProtocolException {
            if (writer.contiguousWritableBytes(size) < size) {
                writer.publish();
                while (reader.readableBytes() > 0) {
                    reader.skip(Integer.MAX_VALUE);
                }
                reader.release();
                // Reads the freed consumer position, as IdtsChannel.claim() does before every claim.
                if (writer.contiguousWritableBytes(size) < size) {
                    throw new IllegalStateException("no room after the ring was freed");
                }
            }
        }
    }

    /** Payload bytes moved: reported by JMH per second, next to the messages per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Bytes {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    @Benchmark
    public void readView(Ring r, Bytes bytes, Blackhole blackhole) throws IdtsProtocolException {
        r.ensureReadable();
        if (!r.views.canView(r.maxPinnedSlices)) {
            throw new IllegalStateException("no view");
        }
        ByteBuf view = r.views.take(r.size, r.alloc);
        blackhole.consume(view);
        view.release();
        bytes.bytes += r.size;
    }

    @Benchmark
    public void readCopy(Ring r, Bytes bytes, Blackhole blackhole) throws IdtsProtocolException {
        r.ensureReadable();
        ByteBuf copy = r.alloc.directBuffer(r.size);
        // The reader gives a slice back as soon as its last byte is copied, at this release.
        r.reader.read(copy, r.size);
        r.reader.release();
        blackhole.consume(copy);
        copy.release();
        bytes.bytes += r.size;
    }

    @Benchmark
    public boolean writeCopy(Ring r, Bytes bytes) throws IdtsProtocolException {
        ByteBuf encoded = r.alloc.directBuffer(r.size);
        encoded.writeBytes(r.payload);
        r.ensureWritable();
        r.writer.write(encoded, encoded.readerIndex(), r.size);
        encoded.release();
        bytes.bytes += r.size;
        return r.writer.publish();
    }

    @Benchmark
    public boolean writeClaim(Ring r, Bytes bytes) throws IdtsProtocolException {
        r.ensureWritable();
        r.lifetime.retain();
        ViewByteBuf claim = r.claim.init(r.writer.claimMemory(), r.claimAddress, r.writer.index(), r.size, true,
                r.alloc, r.claimOwner, 0);
        claim.writeBytes(r.payload);
        r.writer.commit(claim.writerIndex());
        claim.release();
        bytes.bytes += r.size;
        return r.writer.publish();
    }
}
