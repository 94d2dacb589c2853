package io.mlserve.trainer;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** The options of {@code train} and {@code trainer} that make the servers' MLflow tracking server the registry. */
public final class MlflowFlags {
    @Option(names = "--mlflow-uri", description = "Publish versions to this MLflow tracking server, the one the "
            + "servers' --mlflow-uri names: a run with the version's metrics and files, a registered model version "
            + "and the challenger alias on it; the serving champion is taken from it for the quality gate. --registry "
            + "is then the trainer's working copy.")
    String uri;

    @Option(names = "--mlflow-token-file", description = "File holding the bearer token for MLflow (read once).")
    Path tokenFile;

    @Option(names = "--mlflow-experiment", defaultValue = "mlserve", description = "Experiment of the training runs "
            + "(created when missing; default: ${DEFAULT-VALUE}).")
    String experiment;

    @Option(names = "--mlflow-aliases", split = ",", defaultValue = "champion,challenger", description = "The "
            + "servers' aliases: the champion's, then the challenger's, which a new version gets "
            + "(default: ${DEFAULT-VALUE}).")
    List<String> aliases;

    /** Where versions go: MLflow when --mlflow-uri is given, else the registry directory alone. */
    Publication publication() {
        if (uri == null) {
            return Publication.LOCAL;
        }
        URI u = URI.create(uri);
        if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
                || u.getHost() == null) {
            throw new IllegalArgumentException("--mlflow-uri: expected http(s)://host[:port], got '" + uri + "'");
        }
        String token;
        try {
            token = MlflowPublication.token(tokenFile);
        } catch (IOException e) {
            throw new IllegalArgumentException("--mlflow-token-file: cannot read " + tokenFile + ": " + e.getMessage());
        }
        return new MlflowPublication(u, token, experiment, aliases);
    }
}
