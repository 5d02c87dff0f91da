package io.idts.microbench;

import io.idts.channel.IdtsProtocolException;
import io.idts.channel.ring.RegionLayout;
import io.idts.channel.ring.RingReader;
import io.idts.channel.ring.RingWriter;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
import org.openjdk.jmh.infra.Control;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * JMH benchmarks of the ring on its own (no channel, no event loop), per message size, over a region allocated with
 * {@link ByteBuffer#allocateDirect} and set up by {@link RegionLayout#initialize}:
 * <ul>
 *   <li>{@code offer}: {@link RingWriter#write} of one message and {@link RingWriter#publish} (release store, full
 *       fence, read of the consumer's flags); when the ring is full, the consumer side frees all of it at once
 *       without copying (amortised over capacity/size offers);</li>
 *   <li>{@code poll}: {@link RingReader#readableBytes} (acquire load and validation of the producer position),
 *       {@link RingReader#read} of one message into a buffer and {@link RingReader#release}; when the ring is empty, a
 *       simulated producer publishes a whole ring's worth at once (one store, no copy);</li>
 *   <li>{@code spsc}: a producer thread offering and a consumer thread polling at the same time, as two processes
 *       do (on two cores: the cost of the cache lines travelling between them).</li>
 * </ul>
 * Run: {@code bash microbench/bench jmh RingBenchmark} (JMH's own options follow, e.g. {@code -p size=64}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = { "-Xms512m", "-Xmx512m" })
public class RingBenchmark {

    /** Ring 0 (connector to acceptor): the ring the benchmarks use. */
    private static final int RING = RegionLayout.RING_CONNECTOR_TO_ACCEPTOR;

    /** One message's bytes, and the region of one connection with its writer and reader. */
    @State(Scope.Thread)
    public static class Ring {
        @Param({ "64", "1024", "16384", "65536" })
        public int size;

        @Param({ "1048576" })
        public int capacity;

        ByteBuffer region;
        RingWriter writer;
        RingReader reader;
        ByteBuf message;
        ByteBuf sink;

        @Setup(Level.Trial)
        public void setUp() {
            region = ByteBuffer.allocateDirect((int) RegionLayout.regionSize(capacity, capacity));
            RegionLayout layout = RegionLayout.initialize(region, capacity, capacity);
            writer = new RingWriter(region, layout, RING);
            reader = new RingReader(region, layout, RING);
            byte[] bytes = new byte[size];
            for (int i = 0; i < size; i++) {
                bytes[i] = (byte) i;
            }
            message = Unpooled.directBuffer(size).writeBytes(bytes);
            sink = Unpooled.directBuffer(size);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            message.release();
            sink.release();
        }
    }

    @Benchmark
    public boolean offer(Ring r) throws IdtsProtocolException {
        int written = r.writer.write(r.message, 0, r.size);
        if (written < r.size) {
            // Full: the consumer frees the whole ring (no copy), then the rest of the message goes in.
            r.writer.publish();
            while (r.reader.readableBytes() > 0) {
                r.reader.skip(Integer.MAX_VALUE);
            }
            r.reader.release();
            r.writer.write(r.message, written, r.size - written);
        }
        return r.writer.publish();
    }

    @Benchmark
    public boolean poll(Ring r) throws IdtsProtocolException {
        r.sink.clear();
        r.reader.readableBytes();
        int n = r.reader.read(r.sink, r.size);
        if (n < r.size) {
            // Empty: a simulated producer fills every free slice at once (committed claims: descriptors only, the
            // bytes are stale).
            r.reader.release();
            int room;
            while ((room = r.writer.contiguousWritableBytes(r.writer.sliceSize())) > 0) {
                r.writer.commit(room);
            }
            r.writer.publish();
            r.reader.readableBytes();
            r.reader.read(r.sink, r.size - n);
        }
        return r.reader.release();
    }

    /** One connection's region shared by a producer thread and a consumer thread. */
    @State(Scope.Group)
    public static class SharedRing {
        @Param({ "64", "1024", "16384", "65536" })
        public int size;

        @Param({ "1048576" })
        public int capacity;

        RingWriter writer;
        RingReader reader;
        ByteBuf message;

        @Setup(Level.Iteration)
        public void setUp() {
            // A fresh region per iteration: an iteration can end with one side ahead of the other.
            ByteBuffer region = ByteBuffer.allocateDirect((int) RegionLayout.regionSize(capacity, capacity));
            RegionLayout layout = RegionLayout.initialize(region, capacity, capacity);
            writer = new RingWriter(region, layout, RING);
            reader = new RingReader(region, layout, RING);
            if (message == null) {
                message = Unpooled.directBuffer(size).writeZero(size);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            message.release();
        }
    }

    /** The consumer thread's own buffer. */
    @State(Scope.Thread)
    public static class Sink {
        ByteBuf buffer;

        @Setup(Level.Trial)
        public void setUp() {
            buffer = Unpooled.directBuffer(64 * 1024);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            buffer.release();
        }
    }

    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscOffer(SharedRing r, Control control) throws IdtsProtocolException {
        int done = 0;
        while (done < r.size) {
            done += r.writer.write(r.message, done, r.size - done);
            if (done < r.size) {
                r.writer.publish();
                if (control.stopMeasurement) {
                    return;
                }
                Thread.onSpinWait();
            }
        }
        r.writer.publish();
    }

    @Benchmark
    @Group("spsc")
    @GroupThreads(1)
    public void spscPoll(SharedRing r, Sink sink, Control control) throws IdtsProtocolException {
        int done = 0;
        while (done < r.size) {
            if (r.reader.readableBytes() == 0) {
                if (control.stopMeasurement) {
                    return;
                }
                Thread.onSpinWait();
                continue;
            }
            sink.buffer.clear();
            done += r.reader.read(sink.buffer, r.size - done);
            r.reader.release();
        }
    }
}
