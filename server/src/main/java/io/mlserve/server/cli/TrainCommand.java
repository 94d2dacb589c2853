package io.mlserve.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code mlserve train} is run by the launcher in a separate JVM with the trainer's classpath (Spark stays off
 * the server's); this entry exists so {@code mlserve --help} lists it and a direct call says where to go.
 */
@Command(name = "train", description = "Train the churn model with Spark, export to ONNX, verify and publish the "
        + "next version (runs in its own JVM: ./mlserve train --help).")
public final class TrainCommand implements Callable<Integer> {
    @Unmatched
    java.util.List<String> args;

    @Override
    public Integer call() {
        System.err.println("train runs in its own JVM with the trainer's classpath: use ./mlserve train "
                + String.join(" ", args == null ? java.util.List.of() : args));
        return 2;
    }
}
