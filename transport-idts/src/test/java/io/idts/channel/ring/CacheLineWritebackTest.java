package io.idts.channel.ring;

import io.idts.channel.Idts;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

class CacheLineWritebackTest {

    /**
     * The module tests run with {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} (the parent pom's
     * test argLine), so the writeback is there wherever the JVM can write lines back on this CPU.
     */
    @Test
    void isAvailableWhereTheJvmExportsItsUnsafeAndCanWriteBack() throws Exception {
        boolean exported = Object.class.getModule().isExported("jdk.internal.misc",
                CacheLineWriteback.class.getModule());
        Class<?> unsafe = Class.forName("jdk.internal.misc.Unsafe");
        boolean enabled = exported && (Boolean) unsafe.getMethod("isWritebackEnabled").invoke(null);
        if (enabled) {
            assertNotNull(CacheLineWriteback.ifAvailable());
        } else {
            assertNull(CacheLineWriteback.ifAvailable(), "exported: " + exported);
        }
        assertEquals(enabled, Idts.isCacheLineWritebackAvailable());
        assertEquals(enabled, RingReader.writesBackFastSlices());
    }

    @Test
    void writingBackChangesNoByte() {
        MemoryWriteback writeback = CacheLineWriteback.ifAvailable();
        ByteBuf buf = Unpooled.directBuffer(3 * 4096 + 100);
        try {
            for (int i = 0; i < buf.capacity(); i++) {
                buf.writeByte(i * 31);
            }
            if (writeback != null) {
                // Unaligned at both ends: the lines the range touches are written back, whole.
                writeback.writeback(buf.memoryAddress() + 7, buf.capacity() - 20);
            }
            for (int i = 0; i < buf.capacity(); i++) {
                assertEquals((byte) (i * 31), buf.getByte(i), "byte " + i);
            }
        } finally {
            buf.release();
        }
    }
}
