package io.mlserve.server.drift;

import io.mlserve.drift.DriftDetector;
import io.mlserve.drift.ReferenceProfile;
import io.mlserve.drift.WindowRecorder;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.inference.ModelDriftConfig;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift monitoring of one served version: its reference (the version's profile.json), the window recorder its
 * executions record into, and the detector that judges closed windows. Recording happens on the instance thread
 * after each execution, for the whole batch at once; closing and judging on the monitor's background thread.
 */
public final class VersionDrift {
    private static final Logger LOG = LoggerFactory.getLogger(VersionDrift.class);
    public static final String PROFILE_FILE = "profile.json";

    private final String model;
    private final String version;
    private final int input;
    private final int width;
    private final int output;
    private final WindowRecorder recorder;
    private final DriftDetector detector;
    private final io.mlserve.drift.SequentialDetector sequential;
    private final boolean sequentialAlerts;
    private volatile io.mlserve.drift.SequentialDetector.Verdict lastVerdict;
    private java.util.function.Supplier<java.util.Map<String, Double>> importance;
    private boolean weighted;
    private final long windowRows;
    private final long windowMs;
    private final io.mlserve.server.time.ServerClock clock;
    private volatile DriftDetector.Report last;
    private long windows;
    private long sinceEvent;
    private final long renotifyWindows;

    private VersionDrift(String model, String version, int input, int width, int output, ReferenceProfile reference,
                         ModelDriftConfig c, io.mlserve.server.time.ServerClock clock) {
        this.clock = clock;
        this.model = model;
        this.version = version;
        this.input = input;
        this.width = width;
        this.output = output;
        this.recorder = new WindowRecorder(reference, c.getSampleEvery() > 0 ? c.getSampleEvery() : 1,
                clock.now(), !c.getNoDetrend());
        DriftDetector.Config d = DriftDetector.Config.defaults();
        this.detector = new DriftDetector(new DriftDetector.Config(
                c.getNumericMethod().isEmpty() ? d.numericMethod() : c.getNumericMethod(),
                c.getCategoricalMethod().isEmpty() ? d.categoricalMethod() : c.getCategoricalMethod(),
                c.getPsiThreshold() > 0 ? c.getPsiThreshold() : d.psiThreshold(),
                c.getKsThreshold() > 0 ? c.getKsThreshold() : d.ksThreshold(),
                c.getJsThreshold() > 0 ? c.getJsThreshold() : d.jsThreshold(),
                c.getChi2PValue() > 0 ? c.getChi2PValue() : d.chi2PValue(),
                c.getDatasetShare() > 0 ? c.getDatasetShare() : d.datasetShare(),
                c.getAlertAfter() > 0 ? c.getAlertAfter() : d.alertAfter(),
                c.getClearAfter() > 0 ? c.getClearAfter() : d.clearAfter(),
                !c.getNoSeasonal(), c.getMinRows() > 0 ? c.getMinRows() : d.minRows(),
                "windows".equals(c.getAlerts())), reference);
        io.mlserve.drift.SequentialDetector.Config q = io.mlserve.drift.SequentialDetector.Config.defaults();
        this.sequential = new io.mlserve.drift.SequentialDetector(new io.mlserve.drift.SequentialDetector.Config(
                c.getSequentialK() > 0 ? c.getSequentialK() : q.k(), c.getSequentialH() > 0 ? c.getSequentialH() : q.h(),
                c.getFlagHoldRows() > 0 ? c.getFlagHoldRows() : q.holdRows(),
                c.getImportanceShare() > 0 ? c.getImportanceShare() : q.importanceShare(),
                c.getDatasetShare() > 0 ? c.getDatasetShare() : q.datasetShare(),
                c.getClearRows() > 0 ? c.getClearRows() : q.clearRows()), reference, recorder.tables());
        this.sequentialAlerts = !"windows".equals(c.getAlerts());
        this.windowRows = c.getWindowRows() > 0 ? c.getWindowRows() : 10_000;
        this.renotifyWindows = c.getRenotifyWindows();
        this.windowMs = (c.getWindowSeconds() > 0 ? c.getWindowSeconds() : 300) * 1000L;
    }

    /**
     * The version's drift monitor, or null when it has no profile.json or its config turns drift off.
     *
     * @throws IllegalArgumentException when the profile cannot serve this model (the message says why)
     */
    public static VersionDrift create(String model, long version, ModelConfig config, Path versionDir,
                                      ModelSignature signature, io.mlserve.server.time.ServerClock clock)
            throws IOException {
        Path file = versionDir.resolve(PROFILE_FILE);
        if (config.getDrift().getDisabled() || !Files.isRegularFile(file)) {
            return null;
        }
        ReferenceProfile reference = ReferenceProfile.read(file);
        String name = config.getFeatures().getInput();
        int input = name.isEmpty() ? (signature.inputs().size() == 1 ? 0 : -1) : signature.inputIndex(name);
        if (input < 0) {
            throw new IllegalArgumentException(file + ": the model has several inputs; bind one with features.input");
        }
        TensorSpec in = signature.inputs().get(input);
        if (in.dataType() != DataType.FP32 || in.shape().length != 2 || in.shape()[1] <= 0) {
            throw new IllegalArgumentException(file + ": drift needs an FP32 [batch, width] input, '" + in.name()
                    + "' is " + in);
        }
        int width = (int) in.shape()[1];
        for (ReferenceProfile.Feature f : reference.features()) {
            if (f.index() >= width) {
                throw new IllegalArgumentException(file + ": feature " + f.name() + " is column " + f.index()
                        + " but input '" + in.name() + "' has " + width + " columns");
            }
        }
        int output = -1;
        if (!signature.outputs().isEmpty() && signature.outputs().get(0).dataType() == DataType.FP32) {
            output = 0;
        }
        VersionDrift d = new VersionDrift(model, Long.toString(version), input, width, output, reference,
                config.getDrift(), clock);
        LOG.info("{}:{}: drift monitoring against {} ({} features{}), windows of {} rows or {} s", model, version, file,
                reference.features().size(), reference.score() != null && output >= 0 ? " and the score" : "",
                d.windowRows, d.windowMs / 1000);
        return d;
    }

    public String model() {
        return model;
    }

    public String version() {
        return version;
    }

    public int input() {
        return input;
    }

    public int output() {
        return output;
    }

    public int width() {
        return width;
    }

    /** Records an execution's rows (input buffer, [rows, width]) and scores (first value of each output row). */
    public void record(Rows view, int rows) {
        recorder.record(view, rows, clock.now());
    }

    /**
     * Where the model's importance per feature comes from (the version's explainer over rows drawn from its profile);
     * asked once, on the monitor's thread, the first time the sequential alert is weighed. Uniform until then, or when
     * it fails.
     */
    public void importanceFrom(java.util.function.Supplier<java.util.Map<String, Double>> source) {
        this.importance = source;
    }

    /** Whether the sequential detector raises this version's alerts (the default) rather than closed windows. */
    public boolean sequentialAlerts() {
        return sequentialAlerts;
    }

    /** Looks at what was recorded since the last look (the monitor's thread only, every tick). */
    io.mlserve.drift.SequentialDetector.Verdict look(long nowMs) {
        if (!weighted && importance != null) {
            weighted = true;
            try {
                java.util.Map<String, Double> w = importance.get();
                if (w != null && !w.isEmpty()) {
                    sequential.weights(w);
                }
            } catch (RuntimeException e) {
                LOG.warn("{}:{}: importance unknown ({}); every feature weighs the same in drift alerts", model,
                        version, e.getMessage());
            }
        }
        io.mlserve.drift.SequentialDetector.Verdict v = sequential.update(recorder.totals(), nowMs);
        lastVerdict = v;
        return v;
    }

    /**
     * Whether a sequential verdict goes to the listeners as an event: when the alert is raised, and while it stays
     * raised, again every {@code renotify_windows} windows (counted by {@link #closeAndJudge}).
     */
    boolean notifySequential(io.mlserve.drift.SequentialDetector.Verdict v) {
        if (v.raised()) {
            sinceEvent = 0;
            return true;
        }
        if (v.alert() && renotifyWindows > 0 && sinceEvent >= renotifyWindows) {
            sinceEvent = 0;
            return true;
        }
        return false;
    }

    /** The last sequential verdict, or null before the first look. */
    public io.mlserve.drift.SequentialDetector.Verdict lastVerdict() {
        return lastVerdict;
    }

    /** Whether the open window should close now. */
    boolean due(long nowMs) {
        long pending = recorder.pendingRows();
        return pending >= windowRows || (pending > 0 && nowMs - recorder.windowStartMs() >= windowMs);
    }

    /** Closes the open window and judges it (the monitor's thread only). */
    DriftDetector.Report closeAndJudge(long nowMs) {
        DriftDetector.Report r = detector.evaluate(recorder.close(nowMs));
        windows++;
        sinceEvent++;
        last = r;
        return r;
    }

    /**
     * Whether this window's report goes to the listeners as an event: when the alert is raised, and while it
     * stays raised, again every {@code renotify_windows} windows (the monitor's thread only).
     */
    boolean notify(DriftDetector.Report r) {
        if (sequentialAlerts) {
            return false; // windows report; the sequential detector raises the alert
        }
        boolean again = r.alert() && renotifyWindows > 0 && sinceEvent >= renotifyWindows;
        if (r.alertRaised() || again) {
            sinceEvent = 0;
            return true;
        }
        return false;
    }

    long windows() {
        return windows;
    }

    /** The last closed window's report, or null. */
    public DriftDetector.Report last() {
        return last;
    }

    /** The monitored features' names (the profile's). */
    public java.util.List<String> featureNames() {
        return recorder.reference().features().stream().map(ReferenceProfile.Feature::name).toList();
    }

    public ReferenceProfile reference() {
        return recorder.reference();
    }

    /**
     * A reusable view of one execution's buffers for the recorder, one per instance thread: no allocation per
     * request.
     */
    public static final class Rows implements WindowRecorder.Rows {
        private ByteBuffer in;
        private int width;
        private ByteBuffer out;
        private int outWidth;

        public Rows set(ByteBuffer in, int width, ByteBuffer out, int outWidth) {
            this.in = in;
            this.width = width;
            this.out = out;
            this.outWidth = outWidth;
            return this;
        }

        @Override
        public float value(int row, int column) {
            return in.getFloat((row * width + column) * Float.BYTES);
        }

        @Override
        public float score(int row) {
            return out == null ? Float.NaN : out.getFloat(row * outWidth * Float.BYTES);
        }
    }
}
