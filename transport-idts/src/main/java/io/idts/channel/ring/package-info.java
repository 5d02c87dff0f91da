/**
 * <em>Internal.</em> The shared-memory protocol and its algorithms, as {@code docs/protocol.md} describes them: the
 * region's layout ({@link io.idts.channel.ring.RegionLayout}), the producer and consumer of one ring
 * ({@link io.idts.channel.ring.RingWriter}, {@link io.idts.channel.ring.RingReader}) and the zero-copy views of its
 * slices ({@link io.idts.channel.ring.SliceViews}, {@link io.idts.channel.ring.ViewByteBuf}). Nothing here knows of
 * channels, backends or notifications, so it is testable over any {@link java.nio.ByteBuffer}. Public only for the
 * other packages of this transport, its tests and its benchmarks; not an API.
 */
package io.idts.channel.ring;
