package io.idts.microbench;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;

/** A small JSON writer (maps, collections, arrays, numbers, booleans, strings); NaN and infinities become null. */
final class Json {

    private Json() {
    }

    static String write(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value, 0);
        return b.append('\n').toString();
    }

    private static void write(StringBuilder b, Object v, int indent) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof Map) {
            Map<?, ?> map = (Map<?, ?>) v;
            if (map.isEmpty()) {
                b.append("{}");
                return;
            }
            b.append("{\n");
            int i = 0;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                indent(b, indent + 1);
                string(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), indent + 1);
                b.append(++i < map.size() ? ",\n" : "\n");
            }
            indent(b, indent);
            b.append('}');
        } else if (v instanceof Collection) {
            array(b, ((Collection<?>) v).toArray(), indent);
        } else if (v instanceof Object[]) {
            array(b, (Object[]) v, indent);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                b.append("null");
            } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                b.append((long) d);
            } else {
                b.append(String.format(Locale.ROOT, "%.6g", d).replaceFirst("(\\.\\d*?)0+(e|$)", "$1$2")
                        .replaceFirst("\\.(e|$)", "$1"));
            }
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else {
            string(b, String.valueOf(v));
        }
    }

    private static void array(StringBuilder b, Object[] items, int indent) {
        boolean simple = true;
        for (Object o : items) {
            simple &= !(o instanceof Map || o instanceof Collection || o instanceof Object[]);
        }
        if (simple) {
            b.append('[');
            for (int i = 0; i < items.length; i++) {
                if (i > 0) {
                    b.append(", ");
                }
                write(b, items[i], indent);
            }
            b.append(']');
            return;
        }
        b.append("[\n");
        for (int i = 0; i < items.length; i++) {
            indent(b, indent + 1);
            write(b, items[i], indent + 1);
            b.append(i + 1 < items.length ? ",\n" : "\n");
        }
        indent(b, indent);
        b.append(']');
    }

    private static void indent(StringBuilder b, int indent) {
        for (int i = 0; i < indent; i++) {
            b.append("  ");
        }
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }
}
