package io.mlserve.app;

import java.util.concurrent.Callable;

/**
 * A command that a module built on top of this one adds to {@code mlserve}: an implementation annotated with
 * picocli's {@code @Command}, listed in {@code META-INF/services/io.mlserve.app.PluginCommand} of its jar, becomes a
 * subcommand when that jar is on the classpath (the bench module adds {@code bench} this way, as the launcher and
 * the image put it there). The app does not depend on its plug-ins.
 */
public interface PluginCommand extends Callable<Integer> {
}
