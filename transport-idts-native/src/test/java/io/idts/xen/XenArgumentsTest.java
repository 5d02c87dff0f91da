package io.idts.xen;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The public classes load without Xen, and reject bad arguments before any native call: the instances here
 * wrap a null handle that is never passed to a library.
 */
class XenArgumentsTest {

    private static final String[] PUBLIC_CLASSES = {"XenHost", "XenGrantSharer", "XenSharedPages",
            "XenGrantMapper", "XenMappedGrants", "XenEventChannel", "XenStore", "XenStorePermission"};

    @Test
    void classesLoadAndInitializeWithoutXen() throws IOException {
        for (String name : PUBLIC_CLASSES) {
            assertDoesNotThrow(() -> Class.forName("io.idts.xen." + name, true, getClass().getClassLoader()), name);
        }
        if (!Files.exists(Paths.get(XenHost.GNTDEV))) {
            assertFalse(Files.readString(Paths.get("/proc/self/maps")).contains("libxen"),
                    "a Xen library was loaded");
        }
    }

    @Test
    void sharerChecksArguments() {
        XenGrantSharer sharer = new XenGrantSharer(0);
        assertThrows(IllegalArgumentException.class, () -> sharer.share(-1, 1, true));
        assertThrows(IllegalArgumentException.class, () -> sharer.share(0x7FF0, 1, true));
        assertThrows(IllegalArgumentException.class, () -> sharer.share(0, 0, true));
        assertThrows(IllegalArgumentException.class, () -> sharer.share(0, Integer.MAX_VALUE / 4096 + 1, true));
        assertThrows(IllegalArgumentException.class, () -> sharer.sharePageWithNotify(0, true, 4096, -1));
        assertThrows(IllegalArgumentException.class, () -> sharer.sharePageWithNotify(0, true, -2, -1));
        assertThrows(IllegalArgumentException.class, () -> sharer.sharePageWithNotify(0, true, -1, -2));
        assertThrows(IllegalArgumentException.class, () -> sharer.sharePageWithNotify(-1, true, 0, 1));
    }

    @Test
    void mapperChecksArguments() {
        XenGrantMapper mapper = new XenGrantMapper(0);
        assertThrows(NullPointerException.class, () -> mapper.map(0, null, true));
        assertThrows(IllegalArgumentException.class, () -> mapper.map(0, new int[0], true));
        assertThrows(IllegalArgumentException.class, () -> mapper.map(-1, new int[] {8}, true));
        assertThrows(IllegalArgumentException.class, () -> mapper.mapWithNotify(0, 8, true, 5000, 3));
        assertThrows(IllegalArgumentException.class, () -> mapper.mapWithNotify(0x8000, 8, true, 0, 3));
    }

    @Test
    void eventChannelChecksArguments() {
        XenEventChannel evtchn = new XenEventChannel(0);
        assertThrows(IllegalArgumentException.class, () -> evtchn.bindUnboundPort(-1));
        assertThrows(IllegalArgumentException.class, () -> evtchn.bindInterdomain(0, 0));
        assertThrows(IllegalArgumentException.class, () -> evtchn.bindInterdomain(0x7FF0, 5));
        assertThrows(IllegalArgumentException.class, () -> evtchn.notifyPort(0));
        assertThrows(IllegalArgumentException.class, () -> evtchn.unmask(-5));
        assertThrows(IllegalArgumentException.class, () -> evtchn.unbind(0));
        assertThrows(IllegalArgumentException.class, () -> evtchn.pending(-1));
    }

    @Test
    void xenStoreChecksArguments() {
        XenStore xs = new XenStore(0);
        assertThrows(IllegalArgumentException.class, () -> xs.read(0, ""));
        assertThrows(NullPointerException.class, () -> xs.read(0, null));
        assertThrows(IllegalArgumentException.class, () -> xs.read(0, "a\0b"));
        assertThrows(NullPointerException.class, () -> xs.write(0, "data/x", null));
        assertThrows(IllegalArgumentException.class, () -> xs.setPermissions(0, "data/x"));
        assertThrows(NullPointerException.class,
                () -> xs.setPermissions(0, "data/x", XenStorePermission.of(0, 0), null));
        assertThrows(IllegalArgumentException.class, () -> xs.transactionEnd(XenStore.NO_TRANSACTION, false));
        assertThrows(IllegalArgumentException.class, () -> xs.watch("data/x", ""));
        assertThrows(IllegalArgumentException.class, () -> xs.domainPath(-1));
        assertThrows(IllegalArgumentException.class, () -> xs.readWatch(-1));
        assertThrows(IllegalArgumentException.class, () -> xs.list(0, ""));
    }

    @Test
    void permissions() {
        assertThrows(IllegalArgumentException.class, () -> XenStorePermission.of(0, 4));
        assertThrows(IllegalArgumentException.class, () -> XenStorePermission.of(-1, XenStorePermission.READ));
        assertEquals("n0", XenStorePermission.of(0, XenStorePermission.NONE).toString());
        assertEquals("r5", XenStorePermission.of(5, XenStorePermission.READ).toString());
        assertEquals("b7", XenStorePermission.of(7, XenStorePermission.BOTH).toString());
        assertEquals(XenStorePermission.of(5, 1), XenStorePermission.of(5, 1));
        assertNotEquals(XenStorePermission.of(5, 1), XenStorePermission.of(5, 2));
    }
}
