/**
 * JNA bindings for the Xen primitives of the IDTS Xen backend: grant sharing ({@link io.idts.xen.XenGrantSharer})
 * and mapping ({@link io.idts.xen.XenGrantMapper}) with unmap notifications, interdomain event channels
 * ({@link io.idts.xen.XenEventChannel}) and XenStore ({@link io.idts.xen.XenStore}), over libxengnttab,
 * libxenevtchn and libxenstore.
 *
 * <p><strong>Internal API:</strong> the classes are public only so that the transport module can call them from
 * another package. They may change or disappear without notice; do not use them directly.
 *
 * <p>The libraries are loaded lazily: only when {@link io.idts.xen.XenHost} is first asked, and only after it
 * found the Xen devices; on a machine without Xen, nothing loads a Xen library, and every entry point throws an
 * {@link java.lang.UnsatisfiedLinkError} whose cause names the missing device or library. Failures of the
 * calls are {@link io.idts.linux.NativeIoException}s naming the call and its errno.
 */
package io.idts.xen;
