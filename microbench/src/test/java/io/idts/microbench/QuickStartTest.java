package io.idts.microbench;

import io.idts.channel.IdtsAddress;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Keeps the README's quick start (the code of {@link QuickStart}) compiling and working. */
class QuickStartTest {

    @Test
    void echoesTheLine() throws Exception {
        IdtsAddress address = IdtsAddress.of("quickstart-test-" + ProcessHandle.current().pid());
        assertEquals("hello over shared memory", QuickStart.run(address));
    }
}
