package io.idts.channel.backend;

import io.idts.channel.IdtsServerChannelConfig;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;

import io.netty.channel.EventLoop;

import java.io.IOException;
import java.net.ConnectException;

/**
 * The backend SPI: how a backend makes connections ({@link #connect}) and accepts them ({@link #listen}), and the
 * events it reports to the channels. The channels know nothing else of a backend; everything after the handshake
 * goes through the {@link IdtsConnection} it returns.
 *
 * <p>The backend is chosen by the address: the host backend ({@code io.idts.channel.host}) for an address in a
 * rendezvous directory, the Xen backend ({@code io.idts.channel.xen}) for {@link IdtsAddress#xen(int, String) a Xen
 * address}. Every method here is called on the event
 * loop of the channel concerned, and every callback comes on it.
 */
public interface IdtsBackend {

    /**
     * The local address of a client channel that connects to {@code remote} without a name of its own: the service
     * {@code service} where the client runs (the rendezvous directory of {@code remote}, or this domain).
     */
    IdtsAddress clientAddress(IdtsAddress remote, String service);

    /**
     * Starts connecting to {@code remote}: sends the offer of a region with rings of {@code ringCapacity} bytes.
     * {@code progress} runs on the loop whenever {@link PendingConnect#finish()} may have something to say.
     *
     * @throws BacklogFullException if the server cannot take the connection now; the channel retries shortly
     * @throws ConnectException     if nobody listens on {@code remote}, with a message naming it
     */
    PendingConnect connect(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                           Runnable progress) throws Exception;

    /**
     * Listens on {@code local}, reporting each connection whose handshake is complete to {@code events}.
     *
     * @throws java.net.BindException if another server listens there already
     */
    Listener listen(IdtsAddress local, IdtsIoHandler handler, EventLoop loop, ListenerEvents events)
            throws Exception;

    /** The server's backlog is full; the connect may be retried until the connect timeout. */
    final class BacklogFullException extends ConnectException {
        private static final long serialVersionUID = 1L;

        public BacklogFullException(String message) {
            super(message);
        }
    }

    /** A connect under way. */
    interface PendingConnect {
        /**
         * Completes the connect if the server answered.
         *
         * @return the connection, or {@code null} if the answer has not come yet
         * @throws ConnectException if the server refused the connection or went away, saying why
         */
        IdtsConnection finish() throws IOException;

        /** Abandons the attempt and releases whatever it made. Idempotent. */
        void close();
    }

    /** A listening endpoint. */
    interface Listener {
        /** The server has room again for connections it stopped taking for want of it. */
        void resume();

        /** Stops listening and drops the handshakes under way. Idempotent. */
        void close();
    }

    /** What a {@link Listener} reports to its server channel. */
    interface ListenerEvents {
        /** The server's configuration, with the limits a listener enforces; read it when a handshake starts. */
        IdtsServerChannelConfig config();

        /** How many more connections the server takes now, besides the handshakes under way. */
        int room();

        /**
         * A handshake completed: the server makes the child channel, then calls {@link AcceptedConnection#confirm()}.
         */
        void accepted(AcceptedConnection accepted);

        /** Accepting failed; the listener goes on if it can. */
        void failed(Throwable cause);
    }

    /** A connection whose handshake completed on the accepting side. */
    abstract class AcceptedConnection {
        private final IdtsConnection connection;
        private final IdtsAddress peerAddress;

        public AcceptedConnection(IdtsConnection connection, IdtsAddress peerAddress) {
            this.connection = connection;
            this.peerAddress = peerAddress;
        }

        public final IdtsConnection connection() {
            return connection;
        }

        /** The connecting side's address, as the child channel's remote address. */
        public final IdtsAddress peerAddress() {
            return peerAddress;
        }

        /**
         * Tells the connecting side that its connection is accepted, once the child channel has taken over its rings
         * and is {@code OPEN}.
         */
        public abstract void confirm() throws IOException;
    }
}
