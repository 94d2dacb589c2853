package io.mlserve.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelConfigRequest;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelMetadataRequest;
import io.mlserve.proto.inference.ModelReadyRequest;
import io.mlserve.proto.inference.ModelStatisticsRequest;
import io.mlserve.proto.inference.ModelStreamInferResponse;
import io.mlserve.proto.inference.RepositoryModelLoadRequest;
import io.mlserve.proto.v1.DriftServiceGrpc;
import io.mlserve.proto.v1.GetReportRequest;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.OverrideRequest;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.SecurityOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every entry point that names a model, over every protocol, against every kind of caller: no token, a token without
 * the role, a token with the role but an allow-list without the model, a token with both. One table drives it — an
 * entry point is its protocol, its name, the role it needs and a call — and each cell's expectation follows from the
 * token file alone: UNAUTHENTICATED (401) without a token, PERMISSION_DENIED (403) without the role or outside the
 * allow-list, anything else (the call passed the checks; it may still fail on its own, e.g. no drift window yet)
 * otherwise. Real gRPC and HTTP on loopback against one server.
 */
class AccessMatrixTest {
    @TempDir
    Path dir;

    /** How a call ended, in the terms the checks speak. */
    enum Outcome { UNAUTHENTICATED, PERMISSION_DENIED, PASSED }

    /** A caller: its token (null: none), roles and allow-list as its token-file line says. */
    record Caller(String name, String token, Set<Role> roles, Set<String> models) {
        Outcome expected(Role needs, String model) {
            if (token == null) {
                return Outcome.UNAUTHENTICATED;
            }
            Principal p = new Principal(name, roles, models);
            return p.has(needs) && p.mayUse(model) ? Outcome.PASSED : Outcome.PERMISSION_DENIED;
        }
    }

    /** One way in: the call for a caller's token (null: none) and a model name. */
    @FunctionalInterface
    interface Call {
        Outcome run(String token, String model) throws Exception;
    }

    /** A unary gRPC call: its response, or a StatusRuntimeException. */
    @FunctionalInterface
    interface Blocking {
        Object run(String token, String model);
    }

    record EntryPoint(String protocol, String name, Role needs, Call call) {
    }

    private static final List<Caller> CALLERS = List.of(
            new Caller("nobody", null, Set.of(), Set.of()),
            new Caller("app", "tok-app", Set.of(Role.PREDICT), Set.of("m")),
            new Caller("wide", "tok-wide", Set.of(Role.PREDICT), Set.of()),
            new Caller("prom", "tok-prom", Set.of(Role.METRICS), Set.of("m")),
            new Caller("writer", "tok-writer", Set.of(Role.FEATURES_WRITE), Set.of()),
            new Caller("opsm", "tok-opsm", Set.of(Role.ADMIN), Set.of("m")),
            new Caller("ops", "tok-ops", Set.of(Role.ADMIN), Set.of()));

    @Test
    void everyEntryPointHoldsRolesAndTheAllowListOnEveryProtocol() throws Exception {
        Path repo = dir.resolve("models");
        ExampleModels.addMul().writeTo(repo.resolve("m/1/model.onnx"));
        ExampleModels.addMul().writeTo(repo.resolve("other/1/model.onnx"));
        StringBuilder lines = new StringBuilder();
        for (Caller c : CALLERS) {
            if (c.token() != null) {
                lines.append(TokenFile.hash(c.token())).append(' ').append(c.name()).append(' ');
                lines.append(String.join(",", c.roles().stream().map(Role::label).toList()));
                if (!c.models().isEmpty()) {
                    lines.append(" models=").append(String.join(",", c.models()));
                }
                lines.append('\n');
            }
        }
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, lines);
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withSecurity(SecurityOptions.defaults().withAuth(tokens, false)))) {
            List<EntryPoint> entries = entryPoints(t);
            List<String> wrong = new ArrayList<>();
            int cells = 0;
            for (EntryPoint e : entries) {
                for (Caller c : CALLERS) {
                    for (String model : List.of("m", "other")) {
                        Outcome want = c.expected(e.needs(), model);
                        Outcome got = e.call().run(c.token(), model);
                        cells++;
                        if (got != want) {
                            wrong.add(e.protocol() + " " + e.name() + " by " + c.name() + " on " + model + ": expected "
                                    + want + ", got " + got);
                        }
                    }
                }
            }
            assertThat(wrong).as("cells that break the rule").isEmpty();
            assertThat(cells).isEqualTo(entries.size() * CALLERS.size() * 2);
        }
    }

    private static List<EntryPoint> entryPoints(TestServer t) {
        ManagedChannel ch = t.channel();
        int h = t.server.httpPort();
        String oneRow = "{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": [1, 2, 3, 4]},"
                + " {\"name\": \"b\", \"datatype\": \"FP32\", \"shape\": [1, 4], \"data\": [1, 2, 3, 4]}]}";
        List<EntryPoint> e = new ArrayList<>();
        // gRPC: the Open Inference Protocol and Triton's extensions
        e.add(grpc("ModelInfer", Role.PREDICT, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch)).modelInfer(addMul(m))));
        e.add(new EntryPoint("grpc", "ModelStreamInfer", Role.PREDICT, (tok, m) -> stream(ch, tok, m)));
        e.add(grpc("ModelReady", Role.PREDICT, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch))
                .modelReady(ModelReadyRequest.newBuilder().setName(m).build())));
        e.add(grpc("ModelMetadata", Role.PREDICT, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch)).modelMetadata(ModelMetadataRequest.newBuilder().setName(m).build())));
        e.add(grpc("ModelConfig", Role.PREDICT, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch)).modelConfig(ModelConfigRequest.newBuilder().setName(m).build())));
        e.add(grpc("ModelStatistics", Role.METRICS, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch)).modelStatistics(ModelStatisticsRequest.newBuilder().setName(m).build())));
        e.add(grpc("RepositoryModelLoad", Role.ADMIN, (tok, m) -> as(tok, GRPCInferenceServiceGrpc.newBlockingStub(ch)).repositoryModelLoad(RepositoryModelLoadRequest.newBuilder().setModelName(m).build())));
        // gRPC: mlserve's own services
        e.add(grpc("Predict", Role.PREDICT, (tok, m) -> as(tok, PredictionServiceGrpc.newBlockingStub(ch))
                .predict(PredictRequest.newBuilder().setModelName(m).addEntityIds("e1").build())));
        e.add(grpc("Predict explain", Role.PREDICT, (tok, m) -> as(tok, PredictionServiceGrpc.newBlockingStub(ch)).predict(PredictRequest.newBuilder().setModelName(m).addEntityIds("e1")
                        .setExplain(true).build())));
        e.add(grpc("DriftService/GetReport", Role.METRICS, (tok, m) -> as(tok, DriftServiceGrpc.newBlockingStub(ch)).getReport(GetReportRequest.newBuilder().setModelName(m).build())));
        e.add(grpc("RolloutService/GetRollout", Role.METRICS, (tok, m) -> as(tok, RolloutServiceGrpc.newBlockingStub(ch)).getRollout(GetRolloutRequest.newBuilder().setModelName(m).build())));
        e.add(grpc("RolloutService/Override", Role.ADMIN, (tok, m) -> as(tok, RolloutServiceGrpc.newBlockingStub(ch)).override(OverrideRequest.newBuilder().setModelName(m).setAction("clear_rejected")
                        .build())));
        // REST v2
        e.add(rest("POST", "/v2/models/%s/infer", oneRow, Role.PREDICT, h));
        e.add(rest("POST", "/v2/models/%s/versions/1/infer", oneRow, Role.PREDICT, h));
        e.add(rest("GET", "/v2/models/%s", null, Role.PREDICT, h));
        e.add(rest("GET", "/v2/models/%s/versions/1", null, Role.PREDICT, h));
        e.add(rest("GET", "/v2/models/%s/ready", null, Role.PREDICT, h));
        e.add(rest("GET", "/v2/models/%s/config", null, Role.PREDICT, h));
        e.add(rest("GET", "/v2/models/%s/stats", null, Role.METRICS, h));
        e.add(rest("POST", "/v2/repository/models/%s/load", "", Role.ADMIN, h));
        // REST v1
        e.add(rest("POST", "/v1/models/%s/predict", "{\"entity_ids\": [\"e1\"]}", Role.PREDICT, h));
        e.add(rest("POST", "/v1/models/%s/predict", "{\"entity_ids\": [\"e1\"], \"explain\": true}", Role.PREDICT, h));
        e.add(rest("GET", "/v1/models/%s", null, Role.METRICS, h));
        e.add(rest("GET", "/v1/models/%s/rollout", null, Role.METRICS, h));
        e.add(rest("POST", "/v1/models/%s/rollout", "{\"action\": \"clear_rejected\"}", Role.ADMIN, h));
        e.add(rest("POST", "/v1/models/%s/retrain", "", Role.ADMIN, h));
        e.add(rest("GET", "/v1/models/%s/importance", null, Role.METRICS, h));
        e.add(rest("GET", "/v1/models/%s/training-log", null, Role.METRICS, h));
        e.add(rest("GET", "/v1/quality/%s", null, Role.METRICS, h));
        e.add(rest("GET", "/v1/drift/%s", null, Role.METRICS, h));
        e.add(rest("GET", "/v1/drift/%s/history", null, Role.METRICS, h));
        return e;
    }

    private static ModelInferRequest addMul(String model) {
        float[] v = new float[4];
        return ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(Tensors.fp32("a", v, 1, 4)).addInputs(Tensors.fp32("b", v, 1, 4)).build();
    }

    /** A gRPC entry point whose call throws on a non-OK status. */
    private static EntryPoint grpc(String name, Role needs, Blocking blocking) {
        return new EntryPoint("grpc", name, needs, (tok, m) -> {
            try {
                blocking.run(tok, m);
                return Outcome.PASSED;
            } catch (StatusRuntimeException e) {
                return of(e.getStatus().getCode());
            }
        });
    }

    private static Outcome of(Status.Code code) {
        return code == Status.Code.UNAUTHENTICATED ? Outcome.UNAUTHENTICATED
                : code == Status.Code.PERMISSION_DENIED ? Outcome.PERMISSION_DENIED : Outcome.PASSED;
    }

    /** {@code stub} with a deadline, calling as {@code token}. */
    private static <S extends AbstractStub<S>> S as(String token, S stub) {
        return AccessMatrixTest.<S>auth(token).apply(stub.withDeadlineAfter(10, TimeUnit.SECONDS));
    }

    /** Attaches {@code token} as a bearer token (none when null). */
    private static <S extends AbstractStub<S>> UnaryOperator<S> auth(String token) {
        return stub -> {
            if (token == null) {
                return stub;
            }
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
        };
    }

    /** One message on a stream: refused at the call (role) or in the message's own error (allow-list). */
    private static Outcome stream(ManagedChannel ch, String tok, String model) throws Exception {
        CompletableFuture<Outcome> done = new CompletableFuture<>();
        var stub = GRPCInferenceServiceGrpc.newStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
        StreamObserver<ModelInferRequest> in = as(tok, stub).modelStreamInfer(new StreamObserver<>() {
            @Override
            public void onNext(ModelStreamInferResponse r) {
                String error = r.getErrorMessage();
                done.complete(error.startsWith("PERMISSION_DENIED") ? Outcome.PERMISSION_DENIED
                        : error.startsWith("UNAUTHENTICATED") ? Outcome.UNAUTHENTICATED : Outcome.PASSED);
            }

            @Override
            public void onError(Throwable e) {
                done.complete(of(Status.fromThrowable(e).getCode()));
            }

            @Override
            public void onCompleted() {
                done.complete(Outcome.PASSED);
            }
        });
        in.onNext(addMul(model));
        in.onCompleted();
        return done.get(10, TimeUnit.SECONDS);
    }

    private static EntryPoint rest(String method, String pathFormat, String body, Role needs, int port) {
        return new EntryPoint("http", method + " " + pathFormat.replace("%s", "{m}"), needs, (tok, m) -> {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + String.format(pathFormat, m))).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
            if (tok != null) {
                b.header("Authorization", "Bearer " + tok);
            }
            int status = HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
            return status == 401 ? Outcome.UNAUTHENTICATED : status == 403 ? Outcome.PERMISSION_DENIED
                    : Outcome.PASSED;
        });
    }
}
