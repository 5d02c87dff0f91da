package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import io.netty.util.ResourceLeakTracker;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * Records every leak that Netty's {@link ResourceLeakDetector}s report in this JVM.
 *
 * <p>{@link #install()} makes a {@link ResourceLeakDetectorFactory} whose detectors record each leak they report
 * (and log it, as Netty's own detectors do) the process-wide factory. Netty creates most detectors once, in static
 * initializers ({@code AbstractByteBuf} for every {@link ByteBuf}): the factory must be installed before those run,
 * which {@link LeakDetectionExtension} does when JUnit loads it, before any test class is initialized.
 * {@link #isRecording(Class)} tells whether it was in time for a resource type.
 *
 * <p>A leak is reported only after the garbage collector found the leaked object and some code then tracked a new
 * object of the same type; {@link #surfacePendingLeaks()} makes both happen.
 *
 * <p>Also usable outside JUnit, e.g. by a child JVM's main: call {@link #install()} first thing.
 */
public final class LeakRecorder {

    /** One reported leak. */
    public static final class Leak {
        private final String resourceType;
        private final String records;

        Leak(String resourceType, String records) {
            this.resourceType = resourceType;
            this.records = records;
        }

        /** The simple class name of the leaked resource, e.g. {@code ByteBuf}. */
        public String resourceType() {
            return resourceType;
        }

        /** The access records (creation point, touches, last accesses); empty for an untraced leak. */
        public String records() {
            return records;
        }

        /** {@code true} if the detector had access records (PARANOID or ADVANCED level). */
        public boolean isTraced() {
            return !records.isEmpty();
        }

        @Override
        public String toString() {
            return "LEAK of a " + resourceType + (records.isEmpty()
                    ? " (untraced: run with -Dio.netty.leakDetection.level=PARANOID to see where)"
                    : ":" + records);
        }
    }

    private static final LeakRecorder INSTANCE = new LeakRecorder();

    private final List<Leak> leaks = new CopyOnWriteArrayList<>();
    private final List<RecordingDetector<?>> detectors = new CopyOnWriteArrayList<>();
    private volatile boolean installed;

    private LeakRecorder() {
    }

    /** The JVM's recorder; {@link #install()} it before use. */
    public static LeakRecorder get() {
        return INSTANCE;
    }

    /**
     * Installs the recording factory as Netty's {@link ResourceLeakDetectorFactory} (once; later calls do nothing)
     * and returns the recorder.
     */
    public static LeakRecorder install() {
        LeakRecorder recorder = INSTANCE;
        synchronized (recorder) {
            if (!recorder.installed) {
                ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(recorder.new RecordingFactory());
                recorder.installed = true;
            }
        }
        return recorder;
    }

    /** {@code true} once {@link #install()} ran. */
    public boolean isInstalled() {
        return installed;
    }

    /**
     * {@code true} if the detector of {@code resourceType} was made by the recording factory, so that its leaks are
     * recorded. For {@code ByteBuf.class} this tracks a buffer first, so that Netty creates its detector if it has not
     * yet.
     */
    public boolean isRecording(Class<?> resourceType) {
        if (resourceType == ByteBuf.class) {
            UnpooledByteBufAllocator.DEFAULT.heapBuffer(1).release();
        }
        String name = resourceType.getSimpleName();
        for (RecordingDetector<?> detector : detectors) {
            if (detector.type.equals(name)) {
                return true;
            }
        }
        return false;
    }

    /** The leaks recorded so far and not yet drained, oldest first. */
    public List<Leak> leaks() {
        return Collections.unmodifiableList(new ArrayList<>(leaks));
    }

    /** Removes and returns every recorded leak. */
    public List<Leak> drain() {
        return drain(leak -> true);
    }

    /** Removes and returns the recorded leaks that {@code filter} accepts. */
    public List<Leak> drain(Predicate<Leak> filter) {
        List<Leak> drained = new ArrayList<>();
        for (Leak leak : leaks) {
            if (filter.test(leak) && leaks.remove(leak)) {
                drained.add(leak);
            }
        }
        return drained;
    }

    /**
     * Lets leaks that already happened be reported: collects garbage (so that the detectors' reference queues receive
     * the leaked objects) and then tracks new objects, through {@link PooledByteBufAllocator} and
     * {@link UnpooledByteBufAllocator} and directly with every recording detector, since a detector reports what its
     * queue holds only when it tracks something. Several rounds, because the collector and the reference handler
     * thread enqueue asynchronously.
     */
    public void surfacePendingLeaks() {
        for (int round = 0; round < 5; round++) {
            System.gc();
            try {
                Thread.sleep(round == 0 ? 10 : 25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            allocateAndRelease();
            for (RecordingDetector<?> detector : detectors) {
                detector.poke();
            }
        }
    }

    private static void allocateAndRelease() {
        for (int i = 0; i < 3; i++) {
            PooledByteBufAllocator.DEFAULT.directBuffer(64).release();
            PooledByteBufAllocator.DEFAULT.heapBuffer(64).release();
            UnpooledByteBufAllocator.DEFAULT.directBuffer(64).release();
            UnpooledByteBufAllocator.DEFAULT.heapBuffer(64).release();
        }
    }

    void record(String resourceType, String records) {
        leaks.add(new Leak(resourceType, records == null ? "" : records));
    }

    /** The factory: every detector it makes records into this recorder. */
    private final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        @SuppressWarnings("deprecation")
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
                                                                   long maxActive) {
            return newResourceLeakDetector(resource, samplingInterval);
        }

        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval) {
            RecordingDetector<T> detector = new RecordingDetector<>(resource, samplingInterval);
            detectors.add(detector);
            return detector;
        }
    }

    /** A detector that records what it reports, and reports whatever the logging configuration says. */
    private final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        final String type;

        RecordingDetector(Class<T> resource, int samplingInterval) {
            super(resource, samplingInterval);
            this.type = resource.getSimpleName();
        }

        @Override
        protected boolean needReport() {
            // Netty skips reporting when its logger has ERROR disabled; a test must see leaks regardless.
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            record(resourceType, records);
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            record(resourceType, "");
            super.reportUntracedLeak(resourceType);
        }

        /** Tracks (and at once closes) a dummy object: a detector reports its queued leaks when it tracks. */
        @SuppressWarnings("unchecked")
        void poke() {
            Object dummy = new Object();
            ResourceLeakTracker<Object> tracker = ((ResourceLeakDetector<Object>) this).trackForcibly(dummy);
            if (tracker != null) {
                tracker.close(dummy);
            }
        }

        @Override
        public String toString() {
            return "RecordingDetector(" + type + ')';
        }
    }

    @Override
    public String toString() {
        return "LeakRecorder(" + leaks.size() + " leaks, detectors " + detectors + ')';
    }

    static String describe(List<Leak> leaks) {
        StringBuilder text = new StringBuilder();
        for (Leak leak : leaks) {
            text.append(System.lineSeparator()).append(Objects.toString(leak));
        }
        return text.toString();
    }
}
