/**
 * <em>Internal.</em> The host backend: two processes of one Linux host share a {@code memfd} region and notify each
 * other over a socket pair, after a handshake over a Unix-domain socket named after the address's rendezvous
 * directory and service ({@link io.idts.channel.host.HostHandshake}). Public only for the other packages of this
 * transport and its tests; not an API.
 */
package io.idts.channel.host;
