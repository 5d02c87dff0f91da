package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class SharedMappingTest {

    private static final int SIZE = 2 * 4096;

    @Test
    void twoViewsOfOneMemfdSeeEachOthersWrites() throws Exception {
        int fd = MemFd.createSealed("idts-views", SIZE);
        try (SharedMapping a = SharedMapping.map(fd, SIZE); SharedMapping b = SharedMapping.map(fd, SIZE)) {
            assertNotEquals(a.address(), b.address());
            ByteBuffer ba = a.buffer();
            ByteBuffer bb = b.buffer();
            ba.putLong(0, 0x0123456789abcdefL);
            assertEquals(0x0123456789abcdefL, bb.getLong(0));
            bb.putInt(SIZE - Integer.BYTES, 42);
            assertEquals(42, ba.getInt(SIZE - Integer.BYTES));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void bufferCoversTheMappingInNativeOrder() throws Exception {
        int fd = MemFd.createSealed("idts-buffer", SIZE);
        try (SharedMapping mapping = SharedMapping.map(fd, SIZE)) {
            assertEquals(SIZE, mapping.size());
            ByteBuffer buffer = mapping.buffer();
            assertTrue(buffer.isDirect());
            assertEquals(SIZE, buffer.capacity());
            assertEquals(0, buffer.position());
            assertEquals(SIZE, buffer.limit());
            assertEquals(ByteOrder.nativeOrder(), buffer.order());
            buffer.position(100);
            assertEquals(0, mapping.buffer().position(), "buffers are independent");
            // Native order: the int's low byte comes first on a little-endian host.
            buffer.putInt(0, 1);
            assertEquals(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 1 : 0, buffer.get(0));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void mappingOutlivesTheFd() throws Exception {
        int fd = MemFd.createSealed("idts-outlive", SIZE);
        SharedMapping mapping = SharedMapping.map(fd, SIZE);
        FileDescriptors.close(fd);
        try {
            mapping.buffer().putLong(8, 7);
            assertEquals(7, mapping.buffer().getLong(8));
        } finally {
            mapping.close();
        }
    }

    @Test
    void closeIsIdempotentAndEndsBuffers() throws Exception {
        int fd = MemFd.createSealed("idts-close", SIZE);
        try {
            SharedMapping mapping = SharedMapping.map(fd, SIZE);
            mapping.close();
            assertTrue(mapping.isClosed());
            assertDoesNotThrow(mapping::close);
            assertThrows(IllegalStateException.class, mapping::buffer);
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void rejectsSizesOutOfRange() throws Exception {
        int fd = MemFd.createSealed("idts-range", SIZE);
        try {
            assertThrows(IllegalArgumentException.class, () -> SharedMapping.map(fd, 0));
            assertThrows(IllegalArgumentException.class, () -> SharedMapping.map(fd, Integer.MAX_VALUE + 1L));
            assertThrows(IllegalArgumentException.class, () -> SharedMapping.map(fd, SIZE + 1));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void mappingAnEventfdFails() throws Exception {
        int fd = EventFd.create();
        try {
            // st_size of an eventfd is 0, so the size check refuses it before mmap.
            assertThrows(IllegalArgumentException.class, () -> SharedMapping.map(fd, SIZE));
        } finally {
            FileDescriptors.close(fd);
        }
        NativeIoException e = assertThrows(NativeIoException.class, () -> SharedMapping.map(fd, SIZE));
        assertEquals(Errno.EBADF, e.errno());
    }
}
