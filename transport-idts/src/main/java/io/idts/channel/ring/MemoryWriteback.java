package io.idts.channel.ring;

/**
 * Writes lines of memory back from the CPU's caches: a hint that changes no byte, only where the lines are kept.
 * {@link CacheLineWriteback} is the real one; tests substitute their own to see what a {@link RingReader} writes back.
 */
interface MemoryWriteback {

    /** Writes back every cache line of {@code length} bytes at {@code address}, which must be mapped. */
    void writeback(long address, long length);
}
