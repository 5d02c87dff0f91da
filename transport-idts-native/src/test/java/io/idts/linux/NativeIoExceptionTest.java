package io.idts.linux;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NativeIoExceptionTest {

    @Test
    void messageNamesCallStrerrorAndErrno() {
        NativeIoException e = new NativeIoException("connect", Errno.ECONNREFUSED);
        assertEquals("connect failed: Connection refused (errno 111)", e.getMessage());
        assertEquals("connect", e.call());
        assertEquals(Errno.ECONNREFUSED, e.errno());
    }

    @Test
    void detailFollowsTheMessage() {
        NativeIoException e = new NativeIoException("bind", Errno.EADDRINUSE, "abstract socket name @x");
        assertEquals("bind failed: Address already in use (errno 98): abstract socket name @x", e.getMessage());
    }

    @Test
    void failureWithoutErrno() {
        NativeIoException e = NativeIoException.withoutErrno("recvmsg", "too many descriptors");
        assertEquals("recvmsg failed: too many descriptors", e.getMessage());
        assertEquals(NativeIoException.NO_ERRNO, e.errno());
        assertEquals("recvmsg", e.call());
    }
}
