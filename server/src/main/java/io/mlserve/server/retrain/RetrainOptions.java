package io.mlserve.server.retrain;

import java.time.Duration;

/**
 * How the server hands retraining to the trainer.
 *
 * @param trainer         the trainer's gRPC address (host:port, or any grpc-java target)
 * @param cooldown        after a job ends, drift events start no new job for this long (a model's config.json
 *                        retrain.cooldown_seconds overrides it)
 * @param initialBackoff  the wait after the first failed delivery; doubled per failure, with ±20 % jitter
 * @param maxBackoff      the longest wait between deliveries
 * @param poll            how often a delivered job's state is asked for
 * @param requester       this server's name in the jobs it submits
 */
public record RetrainOptions(String trainer, Duration cooldown, Duration initialBackoff, Duration maxBackoff,
                             Duration poll, String requester) {
    public RetrainOptions {
        if (trainer == null || trainer.isBlank()) {
            throw new IllegalArgumentException("--trainer: expected host:port of ./mlserve trainer");
        }
        if (cooldown.isNegative()) {
            throw new IllegalArgumentException("--retrain-cooldown-secs must be >= 0, got " + cooldown.toSeconds());
        }
        if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("retry backoff: need 0 < initial <= max, got " + initialBackoff + " and "
                    + maxBackoff);
        }
        if (poll.isNegative() || poll.isZero()) {
            throw new IllegalArgumentException("--retrain-poll-secs must be > 0");
        }
    }

    /** Defaults: one hour cooldown, backoff 1 s doubling to 60 s, state polled every 2 s. */
    public static RetrainOptions defaults(String trainer) {
        return new RetrainOptions(trainer, Duration.ofHours(1), Duration.ofSeconds(1), Duration.ofSeconds(60),
                Duration.ofSeconds(2), "mlserve");
    }

    public RetrainOptions withBackoff(Duration initial, Duration max) {
        return new RetrainOptions(trainer, cooldown, initial, max, poll, requester);
    }

    public RetrainOptions withPoll(Duration every) {
        return new RetrainOptions(trainer, cooldown, initialBackoff, maxBackoff, every, requester);
    }

    public RetrainOptions withCooldown(Duration d) {
        return new RetrainOptions(trainer, d, initialBackoff, maxBackoff, poll, requester);
    }

    /** This server's name: in the jobs it submits, and its Kafka consumer group for drift events. */
    public RetrainOptions withRequester(String name) {
        return new RetrainOptions(trainer, cooldown, initialBackoff, maxBackoff, poll, name);
    }
}
