package io.mlserve.app;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code mlserve train} and {@code mlserve trainer} are run by the launcher in a separate JVM with the trainer's
 * classpath (Spark stays off the server's); these entries exist so {@code mlserve --help} lists them and a
 * direct call says where to go.
 */
@Command(name = "train", description = "Train a model over a feature view (--config/--view, --label) with Spark, "
        + "export to ONNX, verify, gate against the champion and publish the next version (runs in its own JVM: "
        + "./mlserve train --help).")
public class TrainCommand implements Callable<Integer> {
    @Unmatched
    java.util.List<String> args;

    @Override
    public Integer call() {
        String name = getClass().getAnnotation(Command.class).name();
        System.err.println(name + " runs in its own JVM with the trainer's classpath: use ./mlserve " + name + " "
                + String.join(" ", args == null ? java.util.List.of() : args));
        return 2;
    }

    /** {@code mlserve trainer}: the long-running trainer service. */
    @Command(name = "trainer", description = "Run the trainer service: gRPC mlserve.v1.TrainerService and the "
            + "mlserve.retrain consumer (runs in its own JVM: ./mlserve trainer --help).")
    public static final class Service extends TrainCommand {
    }

    /** {@code mlserve export-log}: training data from the prediction log joined with outcomes. */
    @Command(name = "export-log", description = "Join the prediction log with outcomes from Kafka into the training "
            + "log's format, for ./mlserve train (runs in the trainer's JVM: ./mlserve export-log --help).")
    public static final class ExportLog extends TrainCommand {
    }
}
