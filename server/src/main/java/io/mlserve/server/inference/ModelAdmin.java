package io.mlserve.server.inference;

import io.grpc.Status;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.inference.ModelMetadataResponse;
import io.mlserve.proto.inference.ModelStatisticsResponse;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.proto.inference.ServerMetadataResponse;
import io.mlserve.runtime.TensorSpec;
import io.mlserve.security.Principal;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ModelState;
import io.mlserve.server.repository.ServedVersion;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;

/**
 * Health, metadata, configuration, statistics and repository control, shared by the gRPC service and
 * the REST endpoints so both answer the same way. Loads and unloads run on the loader executor.
 */
public final class ModelAdmin {
    public static final String SERVER_NAME = "mlserve";
    public static final String SERVER_VERSION = "0.1.0";
    private static final List<String> EXTENSIONS = List.of("model_repository", "model_configuration", "statistics",
            "binary_tensor_data");

    private final ModelRepository repository;
    private final InferenceCore core;
    private final Executor loader;
    private final BooleanSupplier accepting;
    private final Runnable onRepositoryChange;

    /**
     * @param accepting          false once shutdown has begun (the server then reports not ready)
     * @param onRepositoryChange run after every load or unload (e.g. to update gRPC health)
     */
    public ModelAdmin(ModelRepository repository, InferenceCore core, Executor loader, BooleanSupplier accepting,
                      Runnable onRepositoryChange) {
        this.repository = repository;
        this.core = core;
        this.loader = loader;
        this.accepting = accepting;
        this.onRepositoryChange = onRepositoryChange;
    }

    public boolean serverReady() {
        return accepting.getAsBoolean() && repository.allReady();
    }

    /**
     * Whether the model (version) is serving; NOT_FOUND for a model the repository has never seen, PERMISSION_DENIED
     * outside {@code principal}'s allow-list.
     */
    public boolean modelReady(String name, String version, Principal principal) {
        try {
            core.resolve(name, version, null, null, principal);
            return true;
        } catch (InferenceError e) {
            if (e.code() == Status.Code.NOT_FOUND && repository.model(name) == null) {
                throw e;
            }
            if (e.code() == Status.Code.INVALID_ARGUMENT || e.code() == Status.Code.PERMISSION_DENIED) {
                throw e;
            }
            return false;
        }
    }

    public ServerMetadataResponse serverMetadata() {
        return ServerMetadataResponse.newBuilder().setName(SERVER_NAME).setVersion(SERVER_VERSION)
                .addAllExtensions(EXTENSIONS).build();
    }

    public ModelMetadataResponse modelMetadata(String name, String version, Principal principal) {
        ServedVersion v = core.resolve(name, version, null, null, principal);
        ModelMetadataResponse.Builder b = ModelMetadataResponse.newBuilder().setName(v.model())
                .setPlatform(v.config().getPlatform());
        for (ServedVersion s : repository.model(name).versions()) {
            b.addVersions(s.versionLabel());
        }
        for (TensorSpec in : v.signature().inputs()) {
            b.addInputs(tensor(in));
        }
        for (TensorSpec out : v.signature().outputs()) {
            b.addOutputs(tensor(out));
        }
        return b.build();
    }

    private static ModelMetadataResponse.TensorMetadata tensor(TensorSpec spec) {
        ModelMetadataResponse.TensorMetadata.Builder t = ModelMetadataResponse.TensorMetadata.newBuilder()
                .setName(spec.name()).setDatatype(spec.dataType().oipName());
        for (long d : spec.shape()) {
            t.addShape(d);
        }
        return t.build();
    }

    public ModelConfig modelConfig(String name, String version, Principal principal) {
        return core.resolve(name, version, null, null, principal).config();
    }

    /**
     * Statistics of one model (or one version of it), or of every serving version {@code principal} may use when name
     * is empty.
     */
    public ModelStatisticsResponse statistics(String name, String version, Principal principal) {
        ModelStatisticsResponse.Builder b = ModelStatisticsResponse.newBuilder();
        if (name.isEmpty()) {
            TreeMap<String, ModelEntry> sorted = new TreeMap<>();
            for (ModelEntry e : repository.models()) {
                if (principal.mayUse(e.name())) {
                    sorted.put(e.name(), e);
                }
            }
            for (ModelEntry e : sorted.values()) {
                for (ServedVersion v : e.versions()) {
                    b.addModelStats(v.metrics().statistics());
                }
            }
            return b.build();
        }
        if (version.isEmpty()) {
            if (!principal.mayUse(name)) {
                core.resolve(name, version, null, null, principal); // refuses, with the allow-list's message
            }
            ModelEntry e = repository.model(name);
            if (e == null) {
                throw new InferenceError(Status.Code.NOT_FOUND, "model '" + name + "' is not in the repository");
            }
            for (ServedVersion v : e.versions()) {
                b.addModelStats(v.metrics().statistics());
            }
            return b.build();
        }
        return b.addModelStats(core.resolve(name, version, null, null, principal).metrics().statistics()).build();
    }

    /** Every model on disk or loaded, one row per version (or per model when none serves). */
    public RepositoryIndexResponse index(String repositoryName, boolean readyOnly) {
        checkRepository(repositoryName);
        TreeMap<String, ModelEntry> loaded = new TreeMap<>();
        for (ModelEntry e : repository.models()) {
            loaded.put(e.name(), e);
        }
        List<String> names = new ArrayList<>(loaded.keySet());
        try {
            for (String n : repository.modelNamesOnDisk()) {
                if (!loaded.containsKey(n)) {
                    names.add(n);
                }
            }
        } catch (IOException e) {
            throw new InferenceError(Status.Code.UNAVAILABLE, "cannot list the model repository: " + e.getMessage());
        }
        names.sort(null);
        RepositoryIndexResponse.Builder b = RepositoryIndexResponse.newBuilder();
        for (String n : names) {
            ModelEntry e = loaded.get(n);
            if (e == null) {
                if (!readyOnly) {
                    b.addModels(row(n, "", ModelState.UNAVAILABLE, "not loaded"));
                }
                continue;
            }
            for (ServedVersion v : e.versions()) {
                b.addModels(row(n, v.versionLabel(), e.state() == ModelState.LOADING ? ModelState.READY : e.state(), ""));
            }
            if (readyOnly) {
                continue;
            }
            for (ModelEntry.VersionFailure f : e.failures()) {
                b.addModels(row(n, Long.toString(f.version()), ModelState.UNAVAILABLE, f.reason()));
            }
            if (e.versions().length == 0 && e.failures().isEmpty()) {
                b.addModels(row(n, "", e.state(), e.reason()));
            }
        }
        return b.build();
    }

    private static RepositoryIndexResponse.ModelIndex row(String name, String version, ModelState state, String reason) {
        return RepositoryIndexResponse.ModelIndex.newBuilder().setName(name).setVersion(version)
                .setState(state.name()).setReason(reason).build();
    }

    /** Loads or reloads a model on the loader executor; completes with FAILED_PRECONDITION if nothing serves. */
    public CompletableFuture<Void> load(String repositoryName, String model) {
        checkRepository(repositoryName);
        checkModelName(model);
        return CompletableFuture.runAsync(() -> {
            ModelEntry e = repository.load(model, "admin");
            onRepositoryChange.run();
            if (!e.ready()) {
                Status.Code code = e.reason().startsWith("no model directory") ? Status.Code.NOT_FOUND
                        : Status.Code.FAILED_PRECONDITION;
                throw new InferenceError(code, "model '" + model + "' could not be loaded: " + e.reason());
            }
        }, loader);
    }

    /** Unloads a model on the loader executor; in-flight requests finish first on the versions they hold. */
    public CompletableFuture<Void> unload(String repositoryName, String model) {
        checkRepository(repositoryName);
        checkModelName(model);
        return CompletableFuture.runAsync(() -> {
            boolean unloaded = repository.unload(model);
            onRepositoryChange.run();
            if (!unloaded) {
                throw new InferenceError(Status.Code.NOT_FOUND, "model '" + model + "' is not loaded");
            }
        }, loader);
    }

    private static void checkModelName(String model) {
        if (model.isEmpty() || model.contains("/") || model.contains("\\") || model.startsWith(".")) {
            throw InferenceError.invalid("model_name: expected a model directory name, got '" + model + "'");
        }
    }

    private void checkRepository(String repositoryName) {
        if (!repositoryName.isEmpty() && !repositoryName.equals(repository.root().getFileName().toString())) {
            throw new InferenceError(Status.Code.NOT_FOUND, "repository_name: this server has one repository, '"
                    + repository.root().getFileName() + "'; got '" + repositoryName + "'");
        }
    }
}
