package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;

import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the child JVM mains of the tests share: startup and a clean, leak-checked shutdown. */
public final class ChildMains {

    private ChildMains() {
    }

    /**
     * First thing in a child's main: record Netty's leak reports, as the tests' JVM does.
     *
     * @throws IllegalStateException if Netty's {@code ByteBuf} leak detector was made before the recorder, so that its
     *                               leaks would go unnoticed
     */
    public static LeakRecorder installLeakRecorder() {
        LeakRecorder recorder = LeakRecorder.install();
        if (!recorder.isRecording(ByteBuf.class)) {
            throw new IllegalStateException("Netty's ByteBuf leak detector was made before the recorder: leaks in "
                    + "this child would go unnoticed");
        }
        return recorder;
    }

    /**
     * Blocks until the parent closes stdin, then closes {@code channel}, shuts {@code group} down, prints
     * {@code LEAKS <n>} (the leak records go to stderr) and exits: status 0 if nothing leaked, 3 if something did.
     */
    public static void runUntilStdinClosed(LeakRecorder recorder, Channel channel, EventLoopGroup group) {
        ChildJvm.awaitStdinClosed();
        int status = 0;
        try {
            if (channel != null) {
                channel.close().await(10, TimeUnit.SECONDS);
            }
            ProcessResources.shutDown(group);
            recorder.surfacePendingLeaks();
            List<LeakRecorder.Leak> leaks = recorder.drain();
            System.out.println("LEAKS " + leaks.size());
            if (!leaks.isEmpty()) {
                System.err.println(LeakRecorder.describe(leaks));
                status = 3;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            status = 1;
        }
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }
}
