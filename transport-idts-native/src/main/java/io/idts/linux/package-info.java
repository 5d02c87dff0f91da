/**
 * JNA bindings for the Linux primitives of the IDTS host backend: memfd regions, shared mappings,
 * eventfd notifications and abstract-namespace Unix-domain sockets with {@code SCM_RIGHTS}.
 *
 * <p><strong>Internal API:</strong> the classes are public only so that the transport module can call
 * them from another package. They may change or disappear without notice; do not use them directly.
 *
 * <p>Struct layouts and constants are those of Linux on LP64 x86-64 and aarch64, checked against the
 * system headers; {@link io.idts.linux.LinuxHost#isAvailable()} refuses any other platform.
 */
package io.idts.linux;
