package io.mlserve.server.traininglog;

import io.mlserve.proto.v1.FeatureStatus;

/**
 * One predicted entity's features as served, attached to its prediction while it waits for the outcome: its values and
 * statuses (one per bound feature) start at {@code offset} of the request's arrays.
 */
public record ServedRow(RowEncoding encoding, float[] values, FeatureStatus[] statuses, int offset) {
}
