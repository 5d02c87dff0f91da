package io.idts.linux;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ErrnoTest {

    @Test
    void describeIsStrerror() {
        assertEquals("No such file or directory", Errno.describe(Errno.ENOENT));
        assertEquals("Connection refused", Errno.describe(Errno.ECONNREFUSED));
        assertEquals("Resource temporarily unavailable", Errno.describe(Errno.EAGAIN));
    }

    @Test
    void constantsAreTheLinuxValues() {
        // Values from asm-generic/errno-base.h and errno.h, shared by x86-64 and aarch64.
        assertEquals(11, Errno.EAGAIN);
        assertEquals(2, Errno.ENOENT);
        assertEquals(111, Errno.ECONNREFUSED);
        assertEquals(98, Errno.EADDRINUSE);
        assertEquals(4, Errno.EINTR);
        assertEquals(32, Errno.EPIPE);
        assertEquals(104, Errno.ECONNRESET);
        assertEquals(9, Errno.EBADF);
        assertEquals(22, Errno.EINVAL);
        assertEquals(36, Errno.ENAMETOOLONG);
        assertEquals(1, Errno.EPERM);
    }
}
