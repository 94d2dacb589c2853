package io.mlserve.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real {@code mlserve serve} program as a child JVM (same classpath and module flags as the tests), its
 * output in a log file, its ports read from its start-up line.
 */
public final class ServerProcess implements AutoCloseable {
    private static final Pattern PORTS = Pattern.compile("gRPC (\\d+) \\| HTTP (\\d+) \\| metrics (\\d+)");

    public final Process process;
    public final Path logFile;
    public final int grpcPort;
    public final int httpPort;
    public final int metricsPort;

    private ServerProcess(Process process, Path logFile, int[] ports) {
        this.process = process;
        this.logFile = logFile;
        this.grpcPort = ports[0];
        this.httpPort = ports[1];
        this.metricsPort = ports[2];
    }

    /** Starts {@code serve} with {@code args} (ports are set to 0 here) and waits for it to listen. */
    public static ServerProcess start(Path logFile, String... args) throws Exception {
        return start(logFile, List.of(), args);
    }

    /** As {@link #start(Path, String...)}, with extra JVM options (heap size, ...). */
    public static ServerProcess start(Path logFile, List<String> jvmOptions, String... args) throws Exception {
        Process p = new ProcessBuilder(command(jvmOptions, args)).redirectErrorStream(true)
                .redirectOutput(logFile.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && p.isAlive()) {
            Matcher m = PORTS.matcher(log(logFile));
            if (m.find()) {
                return new ServerProcess(p, logFile, new int[] {Integer.parseInt(m.group(1)),
                        Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))});
            }
            Thread.sleep(20);
        }
        p.destroyForcibly();
        throw new AssertionError("the server did not start; log:\n" + log(logFile));
    }

    /** Runs {@code serve} with {@code args} until it exits (it is expected to refuse to start); its exit code. */
    public static int runToExit(Path logFile, String... args) throws Exception {
        Process p = new ProcessBuilder(command(List.of(), args)).redirectErrorStream(true)
                .redirectOutput(logFile.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("the server did not exit; log:\n" + log(logFile));
        }
        return p.exitValue();
    }

    private static List<String> command(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        // the module flags this JVM was given (from the root pom), as the ./mlserve launcher passes them
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-Dchronicle")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), io.mlserve.app.Main.class.getName(), "serve",
                "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--metrics-port", "0"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public String log() {
        return log(logFile);
    }

    private static String log(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** The process's resident set size now (VmRSS), in bytes. */
    public long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IOException("no VmRSS for process " + process.pid());
    }

    /** SIGKILL: no shutdown code runs. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
