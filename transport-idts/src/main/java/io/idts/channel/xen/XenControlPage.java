package io.idts.channel.xen;

import io.idts.channel.IdtsProtocolException;

import java.nio.ByteBuffer;

/**
 * The Xen backend's control page: one page per connection, shared by the connector with the acceptor beside the
 * region. It holds each side's alive byte, which that side's kernel clears (with an event) when its process unmaps
 * the page, and the grant references of the region's pages, which do not fit in a XenStore node (xenstored limits a
 * node written by an unprivileged domain to 2048 bytes). The references are listed in <em>list pages</em>, shared
 * read-only, 1024 references each; the control page holds the list pages' references.
 *
 * <pre>
 * offset  size  field                                     written by
 *      0     1  connector alive: 1, cleared on unmap      connector (its kernel clears it)
 *     64     1  acceptor alive: 1, cleared on unmap       acceptor (its kernel clears it)
 *    128     4  region pages, u32                         connector, before the request
 *    132     4  list pages, u32                           connector, before the request
 *    136   4*n  grant references of the n list pages      connector, before the request
 * </pre>
 * Everything is in native byte order. The alive bytes are on separate cache lines: each has one writer. The acceptor
 * reads the counts and references once, before it maps anything, and checks them; the connector may change them
 * afterwards to no effect.
 */
public final class XenControlPage {

    static final int PAGE_SIZE = 4096;
    static final int CONNECTOR_ALIVE_OFFSET = 0;
    static final int ACCEPTOR_ALIVE_OFFSET = 64;
    static final byte ALIVE = 1;
    static final int REGION_PAGES_OFFSET = 128;
    static final int LIST_PAGES_OFFSET = 132;
    static final int LIST_REFS_OFFSET = 136;
    /** Grant references per list page. */
    static final int REFS_PER_LIST_PAGE = PAGE_SIZE / Integer.BYTES;

    private XenControlPage() {
    }

    /** How many list pages the references of {@code regionPages} pages take. */
    static int listPages(int regionPages) {
        return (regionPages + REFS_PER_LIST_PAGE - 1) / REFS_PER_LIST_PAGE;
    }

    /** The connector's side: writes the region's references into the list pages and the rest into the control page. */
    static void write(ByteBuffer control, ByteBuffer lists, int[] regionRefs, int[] listRefs) {
        for (int i = 0; i < regionRefs.length; i++) {
            lists.putInt(i * Integer.BYTES, regionRefs[i]);
        }
        control.putInt(REGION_PAGES_OFFSET, regionRefs.length);
        control.putInt(LIST_PAGES_OFFSET, listRefs.length);
        for (int i = 0; i < listRefs.length; i++) {
            control.putInt(LIST_REFS_OFFSET + i * Integer.BYTES, listRefs[i]);
        }
    }

    /**
     * The acceptor's side: reads the number of region pages once and checks it against the bounds and against the
     * number of list pages.
     *
     * @return the number of region pages
     * @throws IdtsProtocolException if either count is out of bounds or they disagree
     */
    static int readRegionPages(ByteBuffer control, int minPages, int maxPages) throws IdtsProtocolException {
        int regionPages = control.getInt(REGION_PAGES_OFFSET);
        int listPages = control.getInt(LIST_PAGES_OFFSET);
        if (regionPages < minPages || regionPages > maxPages) {
            throw new IdtsProtocolException("control page: region of " + Integer.toUnsignedString(regionPages)
                    + " pages is outside [" + minPages + ", " + maxPages + ']');
        }
        if (listPages != listPages(regionPages)) {
            throw new IdtsProtocolException("control page: " + Integer.toUnsignedString(listPages)
                    + " list pages for " + regionPages + " region pages, expected " + listPages(regionPages));
        }
        return regionPages;
    }

    /** The acceptor's side: copies the list pages' references, after {@link #readRegionPages}. */
    static int[] readListRefs(ByteBuffer control, int regionPages) {
        int[] refs = new int[listPages(regionPages)];
        for (int i = 0; i < refs.length; i++) {
            refs[i] = control.getInt(LIST_REFS_OFFSET + i * Integer.BYTES);
        }
        return refs;
    }

    /** The acceptor's side: copies the region's references out of the mapped list pages. */
    static int[] readRegionRefs(ByteBuffer lists, int regionPages) {
        int[] refs = new int[regionPages];
        for (int i = 0; i < regionPages; i++) {
            refs[i] = lists.getInt(i * Integer.BYTES);
        }
        return refs;
    }
}
