package io.idts.microbench;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Keeps the README's main example (the code of {@link QuickStart}) compiling, working, and the README's. */
class QuickStartTest {

    private static final String BEGIN = "// --- README main example begins ---";
    private static final String END = "// --- README main example ends ---";

    @Test
    void echoesTheLineThroughIdts() throws Exception {
        String service = "quickstart-test-" + ProcessHandle.current().pid();
        assertEquals("hello through IDTS", QuickStart.run(service, "localhost", freePort()));
    }

    @Test
    void readmeShowsTheCodeOfQuickStart() throws IOException {
        Path module = Paths.get(System.getProperty("basedir", System.getProperty("user.dir")));
        List<String> code = exampleIn(module.resolve("src/main/java/io/idts/microbench/QuickStart.java"));
        List<String> readme = firstJavaBlockIn(module.resolveSibling("README.md"));
        assertEquals(String.join("\n", code), String.join("\n", readme),
                "the first java block of README.md must be QuickStart's code between its README markers: copy it over");
    }

    /** The lines between the markers, less the indentation of the first marker. */
    private static List<String> exampleIn(Path source) throws IOException {
        List<String> lines = Files.readAllLines(source, StandardCharsets.UTF_8);
        int begin = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().equals(BEGIN)) {
                begin = i;
            } else if (lines.get(i).trim().equals(END)) {
                end = i;
            }
        }
        assertTrue(begin >= 0 && end > begin, "markers in " + source);
        int indent = lines.get(begin).indexOf(BEGIN);
        List<String> example = new ArrayList<>();
        for (String line : lines.subList(begin + 1, end)) {
            assertTrue(line.isBlank() || line.startsWith(" ".repeat(indent)), "indented as the marker: " + line);
            example.add(line.isBlank() ? "" : line.substring(indent));
        }
        return example;
    }

    private static List<String> firstJavaBlockIn(Path markdown) throws IOException {
        List<String> lines = Files.readAllLines(markdown, StandardCharsets.UTF_8);
        int begin = lines.indexOf("```java");
        assertTrue(begin >= 0, "a java block in " + markdown);
        int end = lines.subList(begin + 1, lines.size()).indexOf("```");
        assertFalse(end < 0, "the java block of " + markdown + " ends");
        return lines.subList(begin + 1, begin + 1 + end);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
