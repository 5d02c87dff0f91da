/**
 * IDTS, a Netty transport that carries a byte stream between two endpoints on one machine through two shared-memory
 * rings: {@link io.idts.channel.IdtsEventLoopGroup}, {@link io.idts.channel.IdtsServerChannel},
 * {@link io.idts.channel.IdtsChannel} and {@link io.idts.channel.IdtsAddress} are all a bootstrap needs; the options
 * are in {@link io.idts.channel.IdtsChannelOption}.
 *
 * <p>The subpackages are internal: the ring protocol ({@code ring}), the backend SPI ({@code backend}) and the two
 * backends ({@code host}, {@code xen}). Their public types are public only so that the packages of this transport,
 * its tests and its benchmarks can reach them; they may change in any release.
 */
package io.idts.channel;
