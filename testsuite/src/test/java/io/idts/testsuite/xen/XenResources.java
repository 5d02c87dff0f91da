package io.idts.testsuite.xen;

import io.idts.xen.XenStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What the Xen backend holds in this domain, seen from outside the backend, for the checks that nothing is left
 * behind: grant mappings of this process, event-channel ports bound through {@code /dev/xen/evtchn}, and XenStore
 * nodes.
 */
final class XenResources {

    /** The XenStore directory under which a domain publishes its IDTS services. */
    static String servicesPath(int domid) {
        return "/local/domain/" + domid + "/data/idts";
    }

    private XenResources() {
    }

    /**
     * This process's mappings of grant devices, as {@code /proc/self/maps} lists them: pages shared with another
     * domain ({@code /dev/xen/gntalloc}) and pages of another domain mapped here ({@code /dev/xen/gntdev}).
     */
    static List<String> grantMappings() throws IOException {
        return Files.readAllLines(Paths.get("/proc/self/maps")).stream()
                .filter(line -> line.contains("/dev/xen/gntdev") || line.contains("/dev/xen/gntalloc"))
                .collect(Collectors.toList());
    }

    /**
     * The event-channel ports that user processes of this domain have bound through {@code /dev/xen/evtchn}, but for
     * those of Xen's own daemons: the evtchn driver names each such interrupt {@code evtchn:<command>} in
     * {@code /proc/interrupts}, one line per bound port, and removes it when the port is unbound.
     */
    static List<String> userEventChannelPorts() throws IOException {
        List<String> ports = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get("/proc/interrupts"))) {
            int name = line.indexOf("evtchn:");
            if (name < 0) {
                continue;
            }
            String owner = line.substring(name + "evtchn:".length()).trim();
            if (!owner.startsWith("xenstored") && !owner.startsWith("xenconsoled")) {
                ports.add(line.trim().replaceAll("\\s+", " "));
            }
        }
        return ports;
    }

    /** Every node under {@code path} (itself included), or an empty list if it does not exist. */
    static List<String> xenStoreTree(XenStore xs, String path) throws IOException {
        List<String> nodes = new ArrayList<>();
        if (xs.read(XenStore.NO_TRANSACTION, path) == null) {
            return nodes;
        }
        nodes.add(path);
        String[] children = xs.list(XenStore.NO_TRANSACTION, path);
        if (children != null) {
            for (String child : children) {
                nodes.addAll(xenStoreTree(xs, path + '/' + child));
            }
        }
        return nodes;
    }
}
