package io.mlserve.server.retrain;

import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.Job;

/**
 * One model's retraining as the bridge sees it, for {@code GET /v1/models}: an immutable snapshot.
 *
 * @param phase           idle, cooldown, delivering, queued or running
 * @param attempts        deliveries tried for the pending request (0 when none is pending)
 * @param nextAttemptMs   when the next delivery is tried (0 when none is scheduled)
 * @param lastError       why the last delivery or job failed, or ""
 * @param cooldownUntilMs events start no job before this time (0 = no cooldown)
 * @param lastEvent       the last drift event received for the model, or null
 * @param lastOutcome     what the bridge did with it (accepted, cooldown, in_flight, ...)
 * @param job             the job in flight, else the last one, or null
 * @param servingVersion  the version this server loaded after the last job published one (0 = none yet)
 */
public record RetrainStatus(String model, String phase, int attempts, long nextAttemptMs, String lastError,
                            long cooldownUntilMs, DriftEvent lastEvent, String lastOutcome, Job job,
                            long servingVersion) {
}
