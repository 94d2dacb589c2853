package io.mlserve.server.traininglog;

import io.mlserve.drift.QualityJoin;

/** A row of the training log ready to be written: joined with its outcome (labelled) or expired. */
record LoggedRow(QualityJoin.Pending pending, ServedRow served, boolean labelled, double label, long outcomeTimeMs) {
}
