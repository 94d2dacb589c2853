package io.mlserve.app;

import java.util.ServiceLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code mlserve} program: one entry for every command (the launcher script and the image run this). */
@Command(name = "mlserve", mixinStandardHelpOptions = true, version = "mlserve 0.1.0",
        description = "gRPC inference server with the feature store, drift monitor, registry sync and retraining built in.",
        subcommands = {ServeCommand.class, ExampleCommand.class, ScoreCommand.class, FeaturesCommand.class, DatagenCommand.class,
            ProfileCommand.class, ReplayCommand.class, TrainCommand.class, TrainCommand.Service.class, TrainCommand.ExportLog.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
        org.slf4j.bridge.SLF4JBridgeHandler.install();
        int code = commandLine().setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    // what the user can fix (a missing file, a bad value, a model that cannot load): one line
                    if (e instanceof java.io.IOException || e instanceof IllegalArgumentException
                            || e instanceof io.mlserve.runtime.ModelLoadException) {
                        String message = e instanceof java.nio.file.NoSuchFileException
                                ? "no such file: " + e.getMessage()
                                : e instanceof java.nio.file.AccessDeniedException
                                ? "permission denied: " + e.getMessage() : e.getMessage();
                        cmd.getErr().println("mlserve " + cmd.getCommandName() + ": " + message);
                        return 2;
                    }
                    throw e;
                }).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** The command line with the built-in commands and every {@link PluginCommand} on the classpath. */
    public static CommandLine commandLine() {
        CommandLine line = new CommandLine(new Main());
        for (PluginCommand plugin : ServiceLoader.load(PluginCommand.class)) {
            line.addSubcommand(plugin);
        }
        return line.addSubcommand(new CommandLine.HelpCommand());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
