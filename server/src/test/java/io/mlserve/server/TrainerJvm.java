package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The trainer (Spark) in its own JVM with its own classpath, exactly as the {@code ./mlserve train} and
 * {@code ./mlserve trainer} launcher runs it. Needs {@code mvn package} of trainer-bridge first (the reactor
 * builds it before this module).
 */
public final class TrainerJvm {
    private TrainerJvm() {
    }

    /** Starts {@code mainClass} of trainer-bridge with {@code args}, output to {@code log}. */
    public static Process start(Path log, String mainClass, String... args) throws Exception {
        Path trainer = Path.of("..", "trainer-bridge", "target").toAbsolutePath().normalize();
        assertThat(trainer.resolve("lib"))
                .as("the trainer's classpath (built by `mvn package` of trainer-bridge, before this module)")
                .isDirectory();
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-Xmx1g", "-cp", trainer.resolve("classes") + File.pathSeparator
                + trainer.resolve("lib") + File.separator + "*", "io.mlserve.trainer." + mainClass));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }
}
