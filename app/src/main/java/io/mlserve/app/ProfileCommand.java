package io.mlserve.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.drift.ProfileBuilder;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code mlserve profile}: a drift reference ({@code mlserve.profile/1}) from any CSV dataset, with exact quantiles,
 * to put beside a model.onnx as profile.json.
 */
@Command(name = "profile", mixinStandardHelpOptions = true,
        description = "Build a drift reference (profile.json, format mlserve.profile/1) from a CSV file with a header: "
                + "per column bins, every percentile and category counts, per quarter or month (--seasons) when a time "
                + "column is given, "
                + "and the score's distribution when a score column is given.")
public final class ProfileCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", required = true, description = "CSV file with a header row.")
    Path data;

    @Option(names = "--out", required = true, description = "Where to write profile.json.")
    Path out;

    @Option(names = "--columns", split = ",", description = "The model input's columns in input order (default: every "
            + "column but the time, score and --exclude ones). For an input not bound to features, name column j of "
            + "input x as x:j.")
    List<String> columns;

    @Option(names = "--exclude", split = ",", description = "Columns to leave out (ids, labels).")
    List<String> exclude = List.of();

    @Option(names = "--time-column", description = "Event time (epoch ms) for the per-quarter season buckets.")
    String timeColumn;

    @Option(names = "--score-column", description = "The model's score, for the score reference.")
    String scoreColumn;

    @Option(names = "--seasons", defaultValue = "QUARTER", description = "Season buckets with --time-column: QUARTER "
            + "or MONTH (a month-long pattern needs MONTH) (default: ${DEFAULT-VALUE}).")
    ProfileBuilder.Seasons seasons;

    @Option(names = "--no-trend", description = "With --time-column: do not fit the numeric features' linear trends "
            + "(by default a trend that moves a feature by 10 %% of its IQR over the data is fitted and stored, and "
            + "the monitor projects live values along it).")
    boolean noTrend;

    @Override
    public Integer call() throws Exception {
        List<String[]> rows = new ArrayList<>();
        String[] header;
        try (BufferedReader in = Files.newBufferedReader(data)) {
            String first = in.readLine();
            if (first == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--data " + data + " is empty");
            }
            header = first.split(",", -1);
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.isEmpty()) {
                    String[] cells = line.split(",", -1);
                    if (cells.length != header.length) {
                        throw new CommandLine.ParameterException(spec.commandLine(), data + " line " + (rows.size() + 2)
                                + ": " + cells.length + " cells, the header has " + header.length);
                    }
                    rows.add(cells);
                }
            }
        }
        List<String> names = Arrays.asList(header);
        List<String> chosen = columns != null ? columns : new ArrayList<>(names);
        if (columns == null) {
            chosen.removeIf(c -> c.equals(timeColumn) || c.equals(scoreColumn) || exclude.contains(c));
        }
        for (String c : concat(chosen, timeColumn, scoreColumn)) {
            if (!names.contains(c)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "no column '" + c + "' in " + data);
            }
        }
        int n = rows.size();
        int width = chosen.size();
        float[] values = new float[n * width];
        List<ProfileBuilder.Column> schema = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            int at = names.indexOf(chosen.get(j));
            List<String> vocabulary = vocabulary(rows, at);
            schema.add(new ProfileBuilder.Column(chosen.get(j), vocabulary));
            for (int i = 0; i < n; i++) {
                String cell = rows.get(i)[at].trim();
                values[i * width + j] = cell.isEmpty() ? Float.NaN : vocabulary == null ? Float.parseFloat(cell)
                        : vocabulary.indexOf(cell);
            }
        }
        long[] times = null;
        if (timeColumn != null) {
            int at = names.indexOf(timeColumn);
            times = new long[n];
            for (int i = 0; i < n; i++) {
                times[i] = Long.parseLong(rows.get(i)[at].trim());
            }
        }
        float[] scores = null;
        if (scoreColumn != null) {
            int at = names.indexOf(scoreColumn);
            scores = new float[n];
            for (int i = 0; i < n; i++) {
                scores[i] = Float.parseFloat(rows.get(i)[at].trim());
            }
        }
        ObjectNode profile = ProfileBuilder.build(schema, values, times, scores, seasons, !noTrend);
        new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(out.toFile(), profile);
        long categorical = schema.stream().filter(c -> c.vocabulary() != null).count();
        System.out.printf(Locale.ROOT, "wrote %s: %d rows, %d columns (%d categorical)%s%s%n", out, n, width,
                categorical, times == null ? "" : ", per quarter", scores == null ? "" : ", with the score");
        return 0;
    }

    /**
     * Null for a numeric column; for a column with any non-numeric value, its distinct values in sorted order (a
     * model fed codes must use the same order: the feature view's vocabulary).
     */
    private static List<String> vocabulary(List<String[]> rows, int at) {
        Set<String> seen = new TreeSet<>();
        boolean numeric = true;
        for (String[] r : rows) {
            String cell = r[at].trim();
            if (cell.isEmpty()) {
                continue;
            }
            seen.add(cell);
            if (numeric) {
                try {
                    Float.parseFloat(cell);
                } catch (NumberFormatException e) {
                    numeric = false;
                }
            }
        }
        return numeric ? null : new ArrayList<>(seen);
    }

    private static List<String> concat(List<String> a, String... more) {
        List<String> all = new ArrayList<>(a);
        for (String m : more) {
            if (m != null) {
                all.add(m);
            }
        }
        return new ArrayList<>(new HashSet<>(all));
    }
}
