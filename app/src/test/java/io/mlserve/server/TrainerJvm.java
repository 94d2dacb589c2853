package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

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
        Path home = Path.of("..").toAbsolutePath().normalize();
        assertThat(home.resolve("trainer-bridge/target/lib"))
                .as("the trainer's classpath (built by `mvn package` of trainer-bridge, before this module)")
                .isDirectory();
        System.setProperty("mlserve.home", home.toString());
        return io.mlserve.app.TrainerProcess.start(log, mainClass, args);
    }
}
