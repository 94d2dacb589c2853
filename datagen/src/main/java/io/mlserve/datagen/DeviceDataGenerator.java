package io.mlserve.datagen;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A second, unrelated data set for bringing your own model: readings of industrial devices and whether each device
 * failed within the next week. Nothing in it is churn's — another entity key ({@code device_id}, int64), nine
 * features (seven numbers, one vocabulary category, one hashed category), another label ({@code failed}) — so it
 * shows what any user's own data goes through.
 *
 * <p>A <b>concept drift</b> at {@code driftAt} of the span: a firmware update recalibrates the vibration sensor and
 * changes what predicts failure — before it, high vibration and heat mean trouble; after it, vibration reads on a
 * new scale where <em>low</em> readings signal a seized bearing, heat stops mattering and high pressure starts to.
 * The features' distributions barely move (the readings keep their ranges), so a model trained before the drift keeps
 * scoring confidently and ranks devices badly: only outcomes reveal it.
 *
 * <p>Writes {@code out/data.csv} (header {@code device_id,event_time,<features>,failed}) and {@code out/mlserve.yaml}
 * (the {@code device} feature view). The same options always write the same bytes.
 */
public final class DeviceDataGenerator {
    public static final long START_MS = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();
    public static final String LABEL = "failed";
    static final String[] FIRMWARE = {"fw1", "fw2", "fw3", "fw4"};
    static final int SITES = 40;
    static final int SITE_BUCKETS = 16;
    /** The numeric features, in view order (the two categories follow). */
    public static final List<String> NUMERIC = List.of("temperature_c", "vibration_mm_s", "pressure_kpa",
            "age_days", "load_pct", "errors_7d", "humidity_pct");

    /**
     * @param days    the span, from 2024-01-01 UTC
     * @param devices how many devices report (each about once a day)
     * @param driftAt the share of the span where the concept drift starts (≥ 1: none)
     */
    public record Options(int days, int devices, double driftAt, long seed) {
        public Options {
            if (days < 1 || devices < 1) {
                throw new IllegalArgumentException("days and devices must be >= 1");
            }
        }
    }

    private final Options options;

    public DeviceDataGenerator(Options options) {
        this.options = options;
    }

    /** When the drift starts, epoch ms (Long.MAX_VALUE when there is none). */
    public long driftMs() {
        return options.driftAt() >= 1 ? Long.MAX_VALUE
                : START_MS + (long) (options.driftAt() * options.days() * 86_400_000L);
    }

    /** The view config: {@code feature_views} with the {@code device} view. */
    public static String viewYaml() {
        StringBuilder b = new StringBuilder("""
                # The device feature view (label column: failed), for ./mlserve train --config and serve --config.
                feature_views:
                  - name: device
                    entity_key: device_id
                    key_type: int64
                    ttl: 3d
                    max_entities: 100000
                    features:
                """);
        for (String n : NUMERIC) {
            b.append("      - {name: ").append(n).append(", type: float32, default: nan}\n");
        }
        b.append("      - {name: firmware, type: categorical, vocabulary: [").append(String.join(", ", FIRMWARE))
                .append("], default: -1}\n");
        b.append("      - {name: site, type: categorical, hash_buckets: ").append(SITE_BUCKETS)
                .append(", default: -1}\n");
        return b.toString();
    }

    /** Writes {@code out/data.csv} and {@code out/mlserve.yaml}; returns the rows written. */
    public long generate(Path out) throws IOException {
        Files.createDirectories(out);
        Files.writeString(out.resolve("mlserve.yaml"), viewYaml());
        SplittableRandom rng = new SplittableRandom(options.seed());
        int n = options.devices();
        // per device: a base age, a site, a firmware and its own baseline readings
        double[] age = new double[n];
        int[] site = new int[n];
        int[] firmware = new int[n];
        double[] baseVibration = new double[n];
        double[] baseTemp = new double[n];
        for (int d = 0; d < n; d++) {
            age[d] = rng.nextDouble(30, 2_000);
            site[d] = rng.nextInt(SITES);
            firmware[d] = rng.nextInt(FIRMWARE.length);
            baseVibration[d] = rng.nextDouble(1.5, 6.0);
            baseTemp[d] = rng.nextDouble(35, 70);
        }
        long drift = driftMs();
        long rows = 0;
        StringBuilder line = new StringBuilder(200);
        try (BufferedWriter w = Files.newBufferedWriter(out.resolve("data.csv"))) {
            w.write("device_id,event_time," + String.join(",", NUMERIC) + ",firmware,site," + LABEL + "\n");
            for (int day = 0; day < options.days(); day++) {
                for (int d = 0; d < n; d++) {
                    long t = START_MS + day * 86_400_000L + (long) ((d + rng.nextDouble()) * (86_400_000.0 / n));
                    boolean after = t >= drift;
                    double temperature = baseTemp[d] + rng.nextGaussian() * 6;
                    double vibration = Math.max(0.1, baseVibration[d] + rng.nextGaussian() * 1.2);
                    double pressure = 300 + rng.nextGaussian() * 40;
                    double ageDays = age[d] + day;
                    double load = Math.min(100, Math.max(0, 60 + rng.nextGaussian() * 18));
                    double errors = Math.max(0, Math.round(rng.nextGaussian() * 2 + 1.5));
                    double humidity = rng.nextDouble() < 0.03 ? Double.NaN : 30 + rng.nextDouble() * 50;
                    double z;
                    if (!after) {
                        z = 1.1 * (vibration - 3.75) + 0.09 * (temperature - 52) + 0.45 * (errors - 1.6)
                                + 0.0006 * (ageDays - 1_000) + (firmware[d] == 2 ? 0.6 : 0) - 2.3;
                    } else {
                        // recalibrated: low vibration means a seized bearing; pressure matters, heat does not
                        z = -1.3 * (vibration - 3.75) + 0.035 * (pressure - 300) + 0.45 * (errors - 1.6)
                                + 0.0006 * (ageDays - 1_000) + (firmware[d] == 2 ? -0.6 : 0) - 2.3;
                    }
                    int failed = rng.nextDouble() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
                    line.setLength(0);
                    line.append(d + 1).append(',').append(t);
                    for (double v : new double[] {temperature, vibration, pressure, ageDays, load, errors, humidity}) {
                        line.append(',');
                        if (!Double.isNaN(v)) {
                            line.append(String.format(Locale.ROOT, "%.3f", v));
                        }
                    }
                    line.append(',').append(FIRMWARE[firmware[d]]).append(",site-").append(site[d]).append(',')
                            .append(failed).append('\n');
                    w.write(line.toString());
                    rows++;
                }
            }
        }
        return rows;
    }
}
