package io.mlserve.app;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A trainer-bridge main class (Spark) in its own JVM, with the trainer's classpath (under {@code mlserve.home}, which
 * the launcher sets) and this JVM's module flags: how the server's commands and the benches hand work to Spark.
 */
public final class TrainerProcess {
    private TrainerProcess() {
    }

    /** Starts trainer class {@code mainClass} with {@code args}; output to {@code log} (null: this console). */
    public static Process start(Path log, String mainClass, String... args) throws Exception {
        Path target = Path.of(System.getProperty("mlserve.home", "."), "trainer-bridge", "target");
        if (!Files.isDirectory(target.resolve("lib"))) {
            throw new IllegalStateException(target.resolve("lib") + " missing: build the trainer first "
                    + "(mvn -DskipTests install), or run through ./mlserve");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        // the module's classes and its runtime dependencies, as its build leaves them (no jar name to keep in step)
        cmd.addAll(List.of("-cp", target.resolve("classes") + File.pathSeparator
                + target.resolve("lib") + File.separator + "*", "io.mlserve.trainer." + mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        return (log == null ? pb.inheritIO() : pb.redirectOutput(log.toFile())).start();
    }
}
