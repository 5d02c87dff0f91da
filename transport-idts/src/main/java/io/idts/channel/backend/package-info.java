/**
 * <em>Internal.</em> The backend SPI between the channels and the two backends: how a backend connects and listens
 * ({@link io.idts.channel.backend.IdtsBackend}), the established connection it hands to a channel
 * ({@link io.idts.channel.backend.IdtsConnection}) and what every connection has in common (a mapped region kept alive
 * by a {@link io.idts.channel.backend.RegionLifetime}, file descriptors watched through
 * {@link io.idts.channel.backend.FdWatch}). Public only for the other packages of this transport; not an API.
 */
package io.idts.channel.backend;
