package io.mlserve.server.drift;

import io.mlserve.drift.DriftDetector;
import io.mlserve.proto.v1.DriftEvent;

/**
 * Told about drift as the server sees it, on the monitor's thread (keep it short): every judged window, every
 * feature flagged or unflagged by the sequential detector, and every raised alert (feature/score drift from the drift monitor, low AUC from live quality) before the retrain bridge
 * gets the event. For embedding programs (the closed-loop scenario); the server's own consumers are the metrics,
 * the retrain bridge and the Kafka publisher.
 */
public interface DriftListener {
    /** DriftEvent.detail of an alert just raised, and of one handed on again while it stays raised. */
    String RAISED = "alert raised";
    String STILL_RAISED = "alert still raised";

    /** A closed window of {@code model}:{@code version}, judged. */
    default void window(String model, String version, DriftDetector.Report report) {
    }

    /** An alert was raised. */
    default void alert(DriftEvent event) {
    }

    /**
     * The sequential detector flagged a feature of {@code model}:{@code version} ("score" for the score), or its flag
     * ended ({@code on} false) — transitions only, at server time {@code timeMs}.
     */
    default void flagged(String model, String version, String feature, boolean on, long timeMs) {
    }
}
