package io.idts.channel.ring;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Pins {@link RegionLayout} to {@code docs/protocol.md}: reads the region table, the descriptor bits and the state
 * values from the document itself and checks each against the named constant it describes, so that neither can
 * change without the other.
 */
class RegionLayoutProtocolDocTest {

    private static final Path PROTOCOL_DOC = Path.of("..", "docs", "protocol.md");

    private static List<String> lines;

    @BeforeAll
    static void readDocument() throws IOException {
        assertTrue(Files.isRegularFile(PROTOCOL_DOC), "docs/protocol.md not found from " + Path.of("").toAbsolutePath());
        lines = Files.readAllLines(PROTOCOL_DOC, StandardCharsets.UTF_8);
    }

    /** The rows of the first table whose header starts with {@code header}, as their cells. */
    private static List<String[]> table(String header) {
        List<String[]> rows = new ArrayList<>();
        int i = 0;
        while (i < lines.size() && !lines.get(i).startsWith(header)) {
            i++;
        }
        assertTrue(i < lines.size(), "docs/protocol.md has no table headed " + header);
        for (i += 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
            String line = lines.get(i).trim();
            assertTrue(line.endsWith("|"), "not a table row: " + line);
            String[] cells = line.substring(1, line.length() - 1).split("\\|");
            for (int c = 0; c < cells.length; c++) {
                cells[c] = cells[c].trim();
            }
            rows.add(cells);
        }
        return rows;
    }

    /** The row whose field starts with {@code field} (case-insensitive). */
    private static String[] row(List<String[]> rows, String field) {
        for (String[] row : rows) {
            if (row[2].toLowerCase(Locale.ROOT).startsWith(field)) {
                return row;
            }
        }
        return fail("docs/protocol.md's region table has no row for " + field);
    }

    private static void assertField(List<String[]> rows, String field, int offset, int size) {
        String[] row = row(rows, field);
        assertEquals(offset, Integer.parseInt(row[0].split(" ")[0]), "offset of " + field);
        assertEquals(size, Integer.parseInt(row[1]), "size of " + field);
    }

    @Test
    void regionTableMatchesTheNamedOffsets() {
        List<String[]> rows = table("| offset | size | field | written by |");
        assertField(rows, "magic", RegionLayout.MAGIC_OFFSET, Integer.BYTES);
        assertField(rows, "version", RegionLayout.VERSION_OFFSET, Integer.BYTES);
        assertField(rows, "`cap0`", RegionLayout.RING_0_CAPACITY_OFFSET, Integer.BYTES);
        assertField(rows, "`cap1`", RegionLayout.RING_1_CAPACITY_OFFSET, Integer.BYTES);
        assertField(rows, "region size", RegionLayout.REGION_SIZE_OFFSET, Long.BYTES);
        int[] producerLines = {RegionLayout.RING_0_PRODUCER_LINE, RegionLayout.RING_1_PRODUCER_LINE};
        int[] consumerLines = {RegionLayout.RING_0_CONSUMER_LINE, RegionLayout.RING_1_CONSUMER_LINE};
        int[] returnQueues = {RegionLayout.RING_0_RETURN_QUEUE, RegionLayout.RING_1_RETURN_QUEUE};
        int[] descriptorQueues = {RegionLayout.RING_0_DESCRIPTOR_QUEUE, RegionLayout.RING_1_DESCRIPTOR_QUEUE};
        for (int ring = 0; ring < 2; ring++) {
            String name = "ring " + ring + ' ';
            assertField(rows, name + "producer position", producerLines[ring] + RegionLayout.PRODUCER_POSITION,
                    Long.BYTES);
            assertField(rows, name + "producer state", producerLines[ring] + RegionLayout.PRODUCER_STATE,
                    Integer.BYTES);
            assertField(rows, name + "producer flags", producerLines[ring] + RegionLayout.PRODUCER_FLAGS,
                    Integer.BYTES);
            assertField(rows, name + "consumer position", consumerLines[ring] + RegionLayout.CONSUMER_POSITION,
                    Long.BYTES);
            assertField(rows, name + "consumer flags", consumerLines[ring] + RegionLayout.CONSUMER_FLAGS,
                    Integer.BYTES);
            assertField(rows, name + "return position", consumerLines[ring] + RegionLayout.RETURN_POSITION,
                    Long.BYTES);
            assertField(rows, name + "return queue", returnQueues[ring], RegionLayout.RETURN_QUEUE_SIZE);
            assertTrue(row(rows, name + "return queue")[2].contains(": " + RegionLayout.SLICES_PER_RING + " u32"));
            assertField(rows, name + "descriptor queue", descriptorQueues[ring], RegionLayout.DESCRIPTOR_QUEUE_SIZE);
            assertTrue(row(rows, name + "descriptor queue")[2]
                    .contains(": " + RegionLayout.DESCRIPTORS_PER_RING + " u64"));
            assertTrue(row(rows, name + "data")[2].contains(RegionLayout.SLICES_PER_RING + " slices"));
        }
        assertEquals(RegionLayout.DATA_OFFSET, Integer.parseInt(row(rows, "ring 0 data")[0].split(" ")[0]));
        assertEquals("`DATA_OFFSET`", row(rows, "ring 0 data")[0].split(" ")[1].replaceAll("[()]", ""));
    }

    @Test
    void regionTableCoversTheControlAreaWithoutGapsOrOverlaps() {
        int next = 0;
        for (String[] row : table("| offset | size | field | written by |")) {
            if (row[2].startsWith("ring 0 data")) {
                break;
            }
            assertEquals(next, Integer.parseInt(row[0]), "offset of " + row[2]);
            next += Integer.parseInt(row[1]);
        }
        assertEquals(RegionLayout.DATA_OFFSET, next);
    }

    @Test
    void descriptorBitsMatchTheMasks() {
        List<String[]> rows = table("| bits | field |");
        assertEquals(RegionLayout.DESCRIPTOR_LENGTH_MASK, bits(rows.get(0)[0]));
        assertTrue(rows.get(0)[1].startsWith("length"));
        assertEquals(RegionLayout.DESCRIPTOR_SLICE_MASK, bits(rows.get(1)[0]));
        assertTrue(rows.get(1)[1].startsWith("slice index"));
        assertEquals(~RegionLayout.DESCRIPTOR_KNOWN_BITS, bits(rows.get(2)[0]));
        assertTrue(rows.get(2)[1].startsWith("reserved"));
        assertEquals(RegionLayout.DESCRIPTOR_END_OF_SLICE, bits(rows.get(3)[0]));
        assertTrue(rows.get(3)[1].startsWith("`END_OF_SLICE`"));
    }

    private static long bits(String range) {
        String[] ends = range.split("-");
        int low = Integer.parseInt(ends[0]);
        int high = Integer.parseInt(ends[ends.length - 1]);
        return high == 63 && low == 0 ? -1L : ((1L << (high - low + 1)) - 1) << low;
    }

    @Test
    void stateValuesMatchTheConstants() {
        List<String[]> rows = table("| value | state | meaning |");
        assertEquals(List.of("0 `NEW`", "1 `OPEN`", "2 `OUTPUT_SHUTDOWN`", "3 `CLOSED`"),
                rows.stream().map(r -> r[0] + " " + r[1]).collect(Collectors.toList()));
        assertEquals(0, RegionLayout.STATE_NEW);
        assertEquals(1, RegionLayout.STATE_OPEN);
        assertEquals(2, RegionLayout.STATE_OUTPUT_SHUTDOWN);
        assertEquals(3, RegionLayout.STATE_CLOSED);
    }
}
