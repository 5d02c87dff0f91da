package io.idts.channel.host;

import java.util.HashMap;
import java.util.Map;

/**
 * The shared memory one server maps for the connections of each peer user, bounded per user
 * ({@link IdtsChannelOption#MAX_SHARED_MEMORY_PER_USER}): the connector chooses the size of the region the server
 * maps, so without a bound one user could make the server map any amount. Thread-safe: a region is reserved on the
 * listener's loop and released wherever its last reference goes (a child's loop, a thread releasing a view).
 */
final class SharedMemoryBudget {

    private final Map<Integer, Long> mappedPerUser = new HashMap<>();

    /** Counts {@code bytes} for {@code uid} if that keeps it within {@code limit}; {@code false} counts nothing. */
    synchronized boolean reserve(int uid, long bytes, long limit) {
        long mapped = mappedPerUser.getOrDefault(uid, 0L);
        if (bytes > limit - mapped) {
            return false;
        }
        mappedPerUser.put(uid, mapped + bytes);
        return true;
    }

    /** Gives back what {@link #reserve} counted. */
    synchronized void release(int uid, long bytes) {
        long left = mappedPerUser.getOrDefault(uid, 0L) - bytes;
        if (left <= 0) {
            mappedPerUser.remove(uid);
        } else {
            mappedPerUser.put(uid, left);
        }
    }

    /** The bytes counted for {@code uid} now. */
    synchronized long mapped(int uid) {
        return mappedPerUser.getOrDefault(uid, 0L);
    }
}
