/**
 * <em>Internal.</em> The Xen backend: two domains of one Xen host share grant-mapped pages and notify each other
 * through an interdomain event channel, after a handshake through XenStore. The JNA bindings it uses are in
 * {@code io.idts.xen}. Public only for the other packages of this transport and its tests; not an API.
 */
package io.idts.channel.xen;
