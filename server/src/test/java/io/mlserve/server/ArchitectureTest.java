package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The server's sources depend on each other without circles: no file reaches itself through the classes it uses (its
 * imports, fully qualified names and same-package names), and no package does. Read from the sources, so the check
 * needs no bytecode tool; comments and strings are removed first so a name in prose is not a dependency.
 */
class ArchitectureTest {
    private static final Path SOURCES = Path.of("src/main/java");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern IMPORT = Pattern.compile("^import (?:static )?([\\w.]+?)(?:\\.\\*)?;", Pattern.MULTILINE);

    /** A source file: its class's full name, its package and its code without comments and string literals. */
    private record Source(String name, String pkg, String code) {
        String simpleName() {
            return name.substring(name.lastIndexOf('.') + 1);
        }
    }

    @Test
    void noFileAndNoPackageOfTheServerDependsOnItselfThroughOthers() throws IOException {
        Map<String, Source> sources = read();
        assertThat(sources).hasSizeGreaterThan(50);
        Map<String, Set<String>> files = fileGraph(sources);
        assertThat(files.get("io.mlserve.server.inference.InferenceCore"))
                .as("the graph sees imports").contains("io.mlserve.server.repository.ServedVersion");
        assertThat(cycles(files)).as("files that reach themselves").isEmpty();
        Map<String, Set<String>> packages = new TreeMap<>();
        files.forEach((from, tos) -> {
            for (String to : tos) {
                String a = sources.get(from).pkg();
                String b = sources.get(to).pkg();
                if (!a.equals(b)) {
                    packages.computeIfAbsent(a, k -> new TreeSet<>()).add(b);
                }
            }
        });
        assertThat(cycles(packages)).as("packages that reach themselves").isEmpty();
    }

    @Test
    void theCheckFindsACircle() {
        Map<String, Set<String>> g = new HashMap<>();
        g.put("a", Set.of("b"));
        g.put("b", Set.of("c"));
        g.put("c", Set.of("a"));
        g.put("d", Set.of("a"));
        assertThat(cycles(g)).containsExactly(List.of("a", "b", "c"));
    }

    private static Map<String, Source> read() throws IOException {
        Map<String, Source> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String text = Files.readString(f);
                Matcher pkg = PACKAGE.matcher(text);
                assertThat(pkg.find()).as("%s has a package", f).isTrue();
                String name = pkg.group(1) + "." + f.getFileName().toString().replace(".java", "");
                out.put(name, new Source(name, pkg.group(1), strip(text)));
            }
        }
        return out;
    }

    /** The code without comments, string and character literals (text blocks included). */
    private static String strip(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ")
                .replaceAll("(?s)\"\"\".*?\"\"\"", "\"\"").replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"")
                .replaceAll("'(\\\\.|[^'\\\\])'", "' '");
    }

    /** File → the server files it uses. */
    private static Map<String, Set<String>> fileGraph(Map<String, Source> sources) {
        Map<String, Set<String>> g = new TreeMap<>();
        for (Source s : sources.values()) {
            Set<String> uses = new TreeSet<>();
            Matcher imp = IMPORT.matcher(s.code());
            while (imp.find()) {
                String target = imp.group(1);
                for (String other : sources.keySet()) {
                    if (target.equals(other) || target.startsWith(other + ".")) {
                        uses.add(other);
                    }
                }
            }
            for (Source other : sources.values()) {
                if (other == s) {
                    continue;
                }
                boolean samePackage = other.pkg().equals(s.pkg())
                        && Pattern.compile("\\b" + other.simpleName() + "\\b").matcher(s.code()).find();
                if (samePackage || s.code().contains(other.name())) {
                    uses.add(other.name());
                }
            }
            uses.remove(s.name());
            g.put(s.name(), uses);
        }
        return g;
    }

    /** The strongly connected components with more than one member (Tarjan), each sorted. */
    static List<List<String>> cycles(Map<String, Set<String>> g) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new HashSet<>();
        List<List<String>> out = new ArrayList<>();
        int[] next = {0};
        for (String v : new TreeSet<>(g.keySet())) {
            if (!index.containsKey(v)) {
                connect(v, g, index, low, stack, onStack, out, next);
            }
        }
        return out;
    }

    private static void connect(String v, Map<String, Set<String>> g, Map<String, Integer> index,
                                Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                                List<List<String>> out, int[] next) {
        index.put(v, next[0]);
        low.put(v, next[0]);
        next[0]++;
        stack.push(v);
        onStack.add(v);
        for (String w : g.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, g, index, low, stack, onStack, out, next);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> component = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) {
                component.sort(null);
                out.add(component);
            }
        }
    }
}
