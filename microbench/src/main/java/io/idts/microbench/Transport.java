package io.idts.microbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The transports the benchmark compares, in the order of its tables. */
public enum Transport {
    /** IDTS, the event loops polling the rings for a fixed time (the spin time) before they block. */
    IDTS_SPIN("idts-spin", "IDTS, spinning"),
    /**
     * IDTS with its defaults, as a user gets it without touching an option: the adaptive spin, zero-copy reads. The
     * reference of IDTS's own targets.
     */
    IDTS("idts", "IDTS, defaults"),
    /** IDTS's defaults but reads copy into the allocator's buffers (ZERO_COPY_READS false): what zero copy saves. */
    IDTS_COPY("idts-copy", "IDTS, copying reads"),
    /** IDTS, the event loops never spinning (SPIN_TIME_NANOS 0): every wake-up is a notification. */
    IDTS_NOTIFY("idts-notify", "IDTS, notify only"),
    /**
     * IDTS's defaults, the receiver keeping what it gets until it holds 4 ring capacities
     * ({@link ServerHandlers.KeepingSink}): one-way bandwidth only.
     */
    IDTS_KEEP("idts-keep", "IDTS, keeping receiver"),
    /** Netty's epoll TCP over loopback, TCP_NODELAY: the reference of every ratio. */
    EPOLL_TCP("epoll-tcp", "epoll TCP"),
    /**
     * An IDTS client (IdtsChannel on an IdtsEventLoopGroup, an address with a TCP address) reaching a TCP-only server
     * (epoll TCP, as {@link #EPOLL_TCP}): the TCP fallback route, whose cost against plain epoll TCP it measures.
     */
    IDTS_FALLBACK("idts-fallback", "IDTS client, TCP fallback"),
    /** Netty's NIO TCP over loopback, TCP_NODELAY. */
    NIO_TCP("nio-tcp", "NIO TCP"),
    /** Netty's epoll Unix-domain stream sockets. */
    EPOLL_UDS("epoll-uds", "epoll UDS"),
    /** Netty's epoll TCP over loopback with event loops that busy-poll epoll instead of blocking in it. */
    EPOLL_TCP_BUSY("epoll-tcp-busy", "epoll TCP, busy poll"),
    /** Aeron IPC (aeron:ipc, embedded media driver, busy-spinning threads): the outside reference. */
    AERON_IPC("aeron-ipc", "Aeron IPC");

    /** The name in arguments and in the JSON file. */
    public final String key;
    /** The name in tables and charts. */
    public final String label;

    Transport(String key, String label) {
        this.key = key;
        this.label = label;
    }

    /** Every transport but Aeron runs through full Netty pipelines. */
    public boolean isNetty() {
        return this != AERON_IPC;
    }

    public boolean isIdts() {
        return this == IDTS_SPIN || this == IDTS || this == IDTS_COPY || this == IDTS_NOTIFY || this == IDTS_KEEP;
    }

    /** A variant of IDTS's receiving side, measured in the one-way bandwidth part (one connection) only. */
    public boolean bandwidthOnly() {
        return this == IDTS_KEEP;
    }

    /**
     * Whether the parts made of connections (set-up, HTTP/1.1, many connections) apply: every Netty transport but the
     * receiver variant. Aeron has no connections: a stream's publication and subscription are set up once, through
     * the media driver's conductor, not per peer as a connect is.
     */
    public boolean connects() {
        return isNetty() && !bandwidthOnly();
    }

    /** Transports whose event loops never block while they have channels: they use a core each, even idle. */
    public boolean spins() {
        return this == EPOLL_TCP_BUSY || this == AERON_IPC;
    }

    public static Transport byKey(String key) {
        for (Transport t : values()) {
            if (t.key.equals(key.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown transport '" + key + "'; known: " + keys());
    }

    static String keys() {
        List<String> keys = new ArrayList<>();
        for (Transport t : values()) {
            keys.add(t.key);
        }
        return String.join(",", keys);
    }
}
