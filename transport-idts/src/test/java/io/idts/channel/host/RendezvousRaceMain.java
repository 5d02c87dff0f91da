package io.idts.channel.host;

import io.idts.channel.IdtsAddress;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * A child JVM's main for {@code RendezvousSocketTest}: a server that binds the rendezvous entry of an address when
 * told, so that several processes bind at once. {@code RendezvousRaceMain <address>} prints {@code READY <pid>}, then
 * reads commands from stdin: {@code BIND <round>} listens on the address and prints {@code BOUND <round>}, or {@code
 * REFUSED <round> <exception>}; {@code CLOSE <round>} closes what it bound and prints {@code CLOSED <round>}. It exits
 * when its stdin closes.
 */
public final class RendezvousRaceMain {

    private RendezvousRaceMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: RendezvousRaceMain <address>");
            System.exit(2);
        }
        IdtsAddress address = IdtsAddress.parse(args[0]);
        // Load and link the bind path now, so that the processes race on the entry rather than on class loading.
        RendezvousSocket.listen(address.sibling(address.service() + "-warm-" + ProcessHandle.current().pid()), 1)
                .close();
        System.out.println("READY " + ProcessHandle.current().pid());
        RendezvousSocket bound = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] command = line.split(" ", 2);
            if ("BIND".equals(command[0])) {
                try {
                    bound = RendezvousSocket.listen(address, 8);
                    System.out.println("BOUND " + command[1]);
                } catch (IOException e) {
                    System.out.println("REFUSED " + command[1] + ' ' + e);
                }
            } else if ("CLOSE".equals(command[0])) {
                if (bound != null) {
                    bound.close();
                    bound = null;
                }
                System.out.println("CLOSED " + command[1]);
            } else {
                System.err.println("unknown command: " + line);
                System.exit(2);
            }
        }
        if (bound != null) {
            bound.close();
        }
        System.exit(0);
    }
}
