package io.idts.channel;

import io.netty.channel.IoHandle;

/**
 * An {@link IoHandle} that {@link IdtsIoHandler} polls: an IDTS channel, whose rings are checked on every turn of
 * the event loop instead of waiting for a readiness event from the kernel.
 */
interface IdtsIoHandle extends IoHandle {

    /**
     * Processes whatever the rings hold for this handle: inbound bytes it wants to read, space freed for a write
     * that waits, a state change of the peer.
     *
     * @return the number of units of work done; {@code 0} if there was nothing to do
     */
    int poll();

    /**
     * Asks the peer to notify before the event loop blocks (sets the ring's wake-me flags, with the fence and
     * re-check of the notification-suppression handshake).
     *
     * @return {@code true} if work arrived meanwhile, so the loop must not block
     */
    boolean prepareToSleep();

    /**
     * How long the event loop should keep polling this handle's rings after it runs out of work, in nanoseconds;
     * {@code 0} never spins; {@link IdtsChannelOption#SPIN_ADAPTIVE} lets the loop's {@link AdaptiveSpin} decide.
     */
    long spinTimeNanos();
}
