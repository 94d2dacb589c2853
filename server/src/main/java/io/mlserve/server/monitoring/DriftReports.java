package io.mlserve.server.monitoring;

import io.grpc.Status;
import io.mlserve.drift.DriftDetector;
import io.mlserve.proto.v1.DriftReport;
import io.mlserve.proto.v1.FeatureDrift;
import io.mlserve.server.drift.VersionDrift;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ServedVersion;
import java.util.Map;

/** Finds the last drift report of a model version, for REST and gRPC alike, and writes it as the proto. */
public final class DriftReports {
    private DriftReports() {
    }

    /** A version's monitor and its last report. */
    public record Found(VersionDrift drift, DriftDetector.Report report) {
    }

    /**
     * @param version empty or null: the latest serving version
     * @throws InferenceError NOT_FOUND (no such model, version, monitor or window yet) or INVALID_ARGUMENT
     */
    public static Found find(ModelRepository repository, String model, String version) {
        ModelEntry e = repository.model(model);
        if (e == null || e.latest() == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "no serving model '" + model + "'");
        }
        ServedVersion v = e.latest();
        if (version != null && !version.isEmpty()) {
            try {
                v = e.version(Long.parseLong(version));
            } catch (NumberFormatException ex) {
                throw InferenceError.invalid("model_version: expected a number, got '" + version + "'");
            }
            if (v == null) {
                throw new InferenceError(Status.Code.NOT_FOUND, "model '" + model + "' does not serve version "
                        + version);
            }
        }
        VersionDrift d = v.drift();
        if (d == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "model '" + model + "' version " + v.versionLabel()
                    + " has no drift monitoring (no profile.json beside its model.onnx, or drift.disabled in "
                    + "config.json)");
        }
        DriftDetector.Report r = d.last();
        if (r == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "model '" + model + "' version " + v.versionLabel()
                    + ": no drift window closed yet");
        }
        return new Found(d, r);
    }

    public static DriftReport proto(Found f) {
        DriftDetector.Report r = f.report();
        DriftReport.Builder b = DriftReport.newBuilder().setModelName(f.drift().model())
                .setModelVersion(f.drift().version()).setWindowRows(r.rows()).setWindowStartMs(r.startMs())
                .setWindowEndMs(r.endMs()).setSeason(r.season() == null ? "" : r.season()).setJudged(r.judged())
                .setDriftedShare(r.driftedShare()).setDatasetDrift(r.datasetDrift()).setDrifted(r.drifted())
                .setAlert(f.drift().sequentialAlerts() ? f.drift().lastVerdict() != null
                        && f.drift().lastVerdict().alert() : r.alert())
                .setAlertRaised(r.alertRaised()).setAlertCleared(r.alertCleared());
        for (Map.Entry<String, DriftDetector.FeatureResult> e : r.features().entrySet()) {
            b.putFeatures(e.getKey(), feature(e.getValue()));
        }
        if (r.score() != null) {
            b.setScore(feature(r.score()));
        }
        return b.build();
    }

    private static FeatureDrift feature(DriftDetector.FeatureResult f) {
        return FeatureDrift.newBuilder().setMethod(f.method()).setDrifted(f.drifted()).setRows(f.rows())
                .setMissing(f.missing()).setPsi(f.psi()).setJs(f.js()).setKs(f.ks()).setKsErrorBound(f.ksErrorBound())
                .setChi2(f.chi2()).setPValue(f.pValue()).setReference(f.reference())
                .setTrendPerDay(f.trendPerDay()).build();
    }
}
