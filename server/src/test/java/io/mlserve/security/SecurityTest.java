package io.mlserve.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.RepositoryIndexRequest;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.SecurityOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import io.mlserve.server.inference.RequestLimits;
import com.google.protobuf.ByteString;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS and mutual TLS handshakes (good, wrong CA, no certificate, certificate from another CA), certificate reload
 * without a restart, every role boundary over gRPC and HTTP with the token file (and its reload), the per-model
 * allow-list, request limits and the per-principal rate limit. Real gRPC and HTTP on loopback.
 */
class SecurityTest {
    @TempDir
    Path dir;

    private TestServer server(SecurityOptions security) throws Exception {
        Path repo = dir.resolve("models");
        ExampleModels.addMul().writeTo(repo.resolve("m/1/model.onnx"));
        ExampleModels.addMul().writeTo(repo.resolve("other/1/model.onnx"));
        ExampleModels.identity(DataType.BYTES).writeTo(repo.resolve("text/1/model.onnx"));
        return new TestServer(repo).start(ServerOptions.ephemeral(repo).withSecurity(security));
    }

    private static ModelInferRequest addMul(String model, int rows) {
        float[] v = new float[rows * 4];
        return ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(Tensors.fp32("a", v, rows, 4)).addInputs(Tensors.fp32("b", v, rows, 4)).build();
    }

    private static SSLContext clientSsl(Path caCert, Path clientCert, Path clientKey) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", Pem.certificates(caCert).get(0));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (clientCert != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("client", Pem.privateKey(clientKey), new char[0],
                    Pem.certificates(clientCert).toArray(new X509Certificate[0]));
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
        }
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return c;
    }

    private static ManagedChannel tlsChannel(int port, Path ca, Path cert, Path key) throws Exception {
        var b = GrpcSslContexts.forClient().trustManager(ca.toFile());
        if (cert != null) {
            b.keyManager(cert.toFile(), key.toFile());
        }
        return NettyChannelBuilder.forAddress("localhost", port).sslContext(b.build()).build();
    }

    private static boolean inferOk(ManagedChannel ch) {
        try {
            GRPCInferenceServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .modelInfer(addMul("m", 1));
            return true;
        } catch (StatusRuntimeException e) {
            return false;
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void tlsAndMutualTlsHandshakesAndCertificatesReloadWithoutARestart() throws Exception {
        Path pki = dir.resolve("pki");
        Certificates.Issued ca = Certificates.ca("mlserve test CA").write(pki, "ca");
        Certificates.Issued other = Certificates.ca("some other CA").write(pki, "other-ca");
        Certificates.leaf("server one", ca).write(pki, "server");
        Certificates.leaf("client", ca).write(pki, "client");
        Certificates.leaf("stranger", other).write(pki, "stranger");
        try (TestServer t = server(SecurityOptions.defaults().withTls(pki.resolve("server.crt"),
                pki.resolve("server.key"), pki.resolve("ca.crt")))) {
            int port = t.server.grpcPort();
            assertThat(inferOk(tlsChannel(port, pki.resolve("ca.crt"), pki.resolve("client.crt"),
                    pki.resolve("client.key")))).as("good client certificate").isTrue();
            assertThat(inferOk(tlsChannel(port, pki.resolve("ca.crt"), null, null))).as("no client certificate")
                    .isFalse();
            assertThat(inferOk(tlsChannel(port, pki.resolve("ca.crt"), pki.resolve("stranger.crt"),
                    pki.resolve("stranger.key")))).as("client certificate from another CA").isFalse();
            assertThat(inferOk(tlsChannel(port, pki.resolve("other-ca.crt"), pki.resolve("client.crt"),
                    pki.resolve("client.key")))).as("server not trusted by the client").isFalse();
            assertThat(inferOk(NettyChannelBuilder.forAddress("localhost", port).usePlaintext().build()))
                    .as("plaintext").isFalse();

            // HTTP and metrics speak TLS too, with the same client-certificate requirement
            HttpClient https = HttpClient.newBuilder().sslContext(clientSsl(pki.resolve("ca.crt"),
                    pki.resolve("client.crt"), pki.resolve("client.key"))).build();
            HttpResponse<String> ready = https.send(HttpRequest.newBuilder(URI.create("https://localhost:"
                    + t.server.httpPort() + "/v2/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(((X509Certificate) ready.sslSession().orElseThrow().getPeerCertificates()[0])
                    .getSubjectX500Principal().getName()).isEqualTo("CN=server one");
            HttpClient noCert = HttpClient.newBuilder().sslContext(clientSsl(pki.resolve("ca.crt"), null, null))
                    .build();
            assertThatThrownBy(() -> noCert.send(HttpRequest.newBuilder(URI.create("https://localhost:"
                    + t.server.metricsPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(java.io.IOException.class);

            // a renewed certificate replaces the files: new handshakes get it, no restart
            Certificates.leaf("server two", ca).write(pki, "server");
            long deadline = System.nanoTime() + 15_000_000_000L;
            String subject = "";
            while (!subject.equals("CN=server two") && System.nanoTime() < deadline) {
                Thread.sleep(250);
                HttpClient fresh = HttpClient.newBuilder().sslContext(clientSsl(pki.resolve("ca.crt"),
                        pki.resolve("client.crt"), pki.resolve("client.key"))).build();
                subject = ((X509Certificate) fresh.send(HttpRequest.newBuilder(URI.create("https://localhost:"
                        + t.server.httpPort() + "/v2/health/live")).build(), HttpResponse.BodyHandlers.ofString())
                        .sslSession().orElseThrow().getPeerCertificates()[0]).getSubjectX500Principal().getName();
            }
            assertThat(subject).isEqualTo("CN=server two");
            assertThat(inferOk(tlsChannel(port, pki.resolve("ca.crt"), pki.resolve("client.crt"),
                    pki.resolve("client.key")))).as("gRPC after the reload").isTrue();
        }
    }

    private static Metadata bearer(String token) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return m;
    }

    private static Status.Code code(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    private static HttpResponse<String> http(String method, int port, String path, String token, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everyRoleBoundaryHoldsOverGrpcAndHttpAndTheTokenFileReloads() throws Exception {
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, String.join("\n",
                "# sha256 of the token, principal, roles, optional allow-list",
                TokenFile.hash("tok-app") + " app predict models=m",
                TokenFile.hash("tok-writer") + " writer features-write",
                TokenFile.hash("tok-ops") + " ops admin",
                TokenFile.hash("tok-prom") + " prometheus metrics", ""));
        try (TestServer t = server(SecurityOptions.defaults().withAuth(tokens, false))) {
            var inference = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
            var rollout = RolloutServiceGrpc.newBlockingStub(t.channel());
            Runnable infer = () -> inference.modelInfer(addMul("m", 1));
            assertThat(code(infer)).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(code(() -> inference.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
                    bearer("nope"))).modelInfer(addMul("m", 1)))).isEqualTo(Status.Code.UNAUTHENTICATED);
            var app = inference.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("tok-app")));
            var ops = inference.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("tok-ops")));
            var prom = inference.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("tok-prom")));
            assertThat(code(() -> app.modelInfer(addMul("m", 1)))).isEqualTo(Status.Code.OK);
            assertThat(code(() -> app.modelInfer(addMul("other", 1)))).as("allow-list")
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
            // the allow-list holds on every message of a stream, including those submitted off the call's thread
            java.util.List<String> streamed = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.concurrent.CountDownLatch three = new java.util.concurrent.CountDownLatch(3);
            var stream = GRPCInferenceServiceGrpc.newStub(t.channel()).withInterceptors(
                    MetadataUtils.newAttachHeadersInterceptor(bearer("tok-app"))).modelStreamInfer(
                    new io.grpc.stub.StreamObserver<>() {
                        @Override
                        public void onNext(io.mlserve.proto.inference.ModelStreamInferResponse r) {
                            streamed.add(r.getErrorMessage().isEmpty() ? r.getInferResponse().getModelName()
                                    : r.getErrorMessage());
                            three.countDown();
                        }

                        @Override
                        public void onError(Throwable e) {
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
            stream.onNext(addMul("m", 64));
            stream.onNext(addMul("other", 1));
            stream.onNext(addMul("m", 1));
            assertThat(three.await(10, TimeUnit.SECONDS)).isTrue();
            stream.onCompleted();
            assertThat(streamed).hasSize(3);
            assertThat(streamed.get(0)).isEqualTo("m");
            assertThat(streamed.get(1)).contains("may not use model 'other'");
            assertThat(streamed.get(2)).isEqualTo("m");
            assertThat(code(() -> app.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())))
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(code(() -> ops.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())))
                    .isEqualTo(Status.Code.OK);
            assertThat(code(() -> ops.modelInfer(addMul("other", 1)))).as("admin includes predict")
                    .isEqualTo(Status.Code.OK);
            assertThat(code(() -> prom.modelInfer(addMul("m", 1)))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(code(() -> rollout.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
                    bearer("tok-prom"))).getRollout(GetRolloutRequest.newBuilder().setModelName("m").build())))
                    .isEqualTo(Status.Code.OK);
            assertThat(code(() -> inference.serverLive(io.mlserve.proto.inference.ServerLiveRequest
                    .getDefaultInstance()))).as("liveness is open").isEqualTo(Status.Code.OK);

            int h = t.server.httpPort();
            HttpResponse<String> anon = http("POST", h, "/v2/models/m/infer", null, "{\"inputs\": []}");
            assertThat(anon.statusCode()).isEqualTo(401);
            assertThat(anon.headers().firstValue("www-authenticate")).contains("Bearer");
            assertThat(http("GET", h, "/v2/health/ready", null, null).statusCode()).isEqualTo(200);
            assertThat(http("GET", h, "/v2/models/m", "tok-app", null).statusCode()).isEqualTo(200);
            String oneRow = "{\"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", \"shape\": [1, 4], "
                    + "\"data\": [1, 2, 3, 4]}, {\"name\": \"b\", \"datatype\": \"FP32\", \"shape\": [1, 4], "
                    + "\"data\": [1, 2, 3, 4]}]}";
            assertThat(http("POST", h, "/v2/models/m/infer", "tok-app", oneRow).statusCode()).isEqualTo(200);
            HttpResponse<String> notAllowed = http("POST", h, "/v2/models/other/infer", "tok-app", oneRow);
            assertThat(notAllowed.statusCode()).as("REST infer holds the allow-list").isEqualTo(403);
            assertThat(notAllowed.body()).contains("may not use model 'other'").doesNotContain("outputs");
            assertThat(http("GET", h, "/v2/models/other", "tok-app", null).statusCode()).isEqualTo(403);
            // Predict by entity, with and without explanations (those are assembled off the caller's thread): the
            // allow-list is checked with the caller's principal either way; "m" passes it and stops at its binding
            var predict = io.mlserve.proto.v1.PredictionServiceGrpc.newBlockingStub(t.channel())
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("tok-app")));
            for (boolean explain : new boolean[] {false, true}) {
                assertThat(code(() -> predict.predict(io.mlserve.proto.v1.PredictRequest.newBuilder()
                        .setModelName("other").addEntityIds("e1").setExplain(explain).build()))).as("explain %s", explain)
                        .isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(code(() -> predict.predict(io.mlserve.proto.v1.PredictRequest.newBuilder()
                        .setModelName("m").addEntityIds("e1").setExplain(explain).build()))).as("explain %s", explain)
                        .isEqualTo(Status.Code.FAILED_PRECONDITION);
                HttpResponse<String> rest = http("POST", h, "/v1/models/other/predict", "tok-app",
                        "{\"entity_ids\": [\"e1\"], \"explain\": " + explain + "}");
                assertThat(rest.statusCode()).as(rest.body()).isEqualTo(403);
            }
            assertThat(http("POST", h, "/v2/models/other/infer", "tok-ops", oneRow).statusCode()).isEqualTo(200);
            assertThat(http("POST", h, "/v2/repository/index", "tok-app", "{}").statusCode()).isEqualTo(403);
            assertThat(http("POST", h, "/v2/repository/index", "tok-ops", "{}").statusCode()).isEqualTo(200);
            assertThat(http("PUT", h, "/v1/features/customer", "tok-app", "{}").statusCode()).isEqualTo(403);
            assertThat(http("PUT", h, "/v1/features/customer", "tok-writer", "{}").statusCode())
                    .as("past auth: this server has no feature store").isEqualTo(404);
            assertThat(http("GET", h, "/v1/audit", "tok-prom", null).statusCode()).isEqualTo(403);
            assertThat(http("GET", h, "/v1/models/m/rollout", "tok-prom", null).statusCode()).isEqualTo(200);
            assertThat(http("GET", t.server.metricsPort(), "/metrics", null, null).statusCode()).isEqualTo(401);
            assertThat(http("GET", t.server.metricsPort(), "/metrics", "tok-app", null).statusCode()).isEqualTo(403);
            String metrics = http("GET", t.server.metricsPort(), "/metrics", "tok-prom", null).body();
            assertThat(metrics).contains("mlserve_auth_denied_total{reason=\"unauthenticated\"}")
                    .contains("mlserve_auth_denied_total{reason=\"permission_denied\"}");

            // refusals are audited (without the tokens, off the refusing thread: a moment later); tokens appear nowhere
            String audit = http("GET", h, "/v1/audit?action=denied", "tok-ops", null).body();
            for (long until = System.nanoTime() + 10_000_000_000L; !(audit.contains("\"actor\":\"anonymous\"")
                    && audit.contains("\"actor\":\"app\"")) && System.nanoTime() < until; Thread.sleep(50)) {
                audit = http("GET", h, "/v1/audit?action=denied", "tok-ops", null).body();
            }
            assertThat(audit).contains("\"actor\":\"app\"").contains("\"reason\":\"permission_denied\"")
                    .contains("\"actor\":\"anonymous\"");
            assertThat(audit + Files.readString(t.server.repository().audit().file())).doesNotContain("tok-")
                    .doesNotContain("nope");

            // a new token is accepted once the file changes; a broken file leaves the tokens in force
            Files.writeString(tokens, TokenFile.hash("tok-new") + " newcomer predict\n",
                    java.nio.file.StandardOpenOption.APPEND);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (http("GET", h, "/v2/models/m", "tok-new", null).statusCode() != 200
                    && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(http("GET", h, "/v2/models/m", "tok-new", null).statusCode()).isEqualTo(200);
            Files.writeString(tokens, "not a token line\n", java.nio.file.StandardOpenOption.APPEND);
            Thread.sleep(2_500);
            assertThat(http("GET", h, "/v2/models/m", "tok-new", null).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void requestLimitsAndThePerPrincipalRateLimit() throws Exception {
        SecurityOptions s = SecurityOptions.defaults().withLimits(new RequestLimits(8, 16, 1 << 20), 100)
                .withRateLimit(2, 5);
        try (TestServer t = server(s)) {
            var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
            assertThatThrownBy(() -> stub.modelInfer(addMul("m", 9))).hasMessageStartingWith("INVALID_ARGUMENT")
                    .hasMessageContaining("--max-rows-per-request");
            ModelInferRequest longText = ModelInferRequest.newBuilder().setModelName("text")
                    .addInputs(Tensors.input("x", "BYTES", 1, 1).setContents(InferTensorContents.newBuilder()
                            .addBytesContents(ByteString.copyFromUtf8("seventeen bytes!!")))).build();
            assertThatThrownBy(() -> stub.modelInfer(longText)).hasMessageStartingWith("INVALID_ARGUMENT")
                    .hasMessageContaining("--max-bytes-element");
            // 2 refused calls spent 2 of the burst of 5; 3 more pass, the next is over the rate
            for (int i = 0; i < 3; i++) {
                stub.modelInfer(addMul("m", 1));
            }
            StatusRuntimeException limited = (StatusRuntimeException) org.assertj.core.api.Assertions.catchThrowable(
                    () -> stub.modelInfer(addMul("m", 1)));
            assertThat(limited.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(Long.parseLong(limited.getTrailers().get(GrpcAuth.RETRY_AFTER_MS))).isBetween(1L, 500L);
            HttpResponse<String> r = http("GET", t.server.httpPort(), "/v2/models/m", null, null);
            assertThat(r.statusCode()).isEqualTo(429);
            assertThat(r.headers().firstValue("retry-after")).contains("1");
            Thread.sleep(600);
            assertThat(http("GET", t.server.httpPort(), "/v2/models/m", null, null).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void oneConnectionMayNotOpenMoreCallsThanItsLimit() throws Exception {
        try (TestServer t = server(SecurityOptions.defaults().withLimits(RequestLimits.DEFAULTS, 1))) {
            var async = GRPCInferenceServiceGrpc.newStub(t.channel());
            var blocking = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
            blocking.modelInfer(addMul("m", 1)); // the connection is up
            java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(1);
            var stream = async.modelStreamInfer(new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(io.mlserve.proto.inference.ModelStreamInferResponse r) {
                    answered.countDown();
                }

                @Override
                public void onError(Throwable e) {
                }

                @Override
                public void onCompleted() {
                }
            });
            stream.onNext(addMul("m", 1));
            assertThat(answered.await(10, TimeUnit.SECONDS)).isTrue();
            // the open stream is the connection's one call: another call on it waits for a free slot
            assertThat(code(() -> blocking.withDeadlineAfter(500, TimeUnit.MILLISECONDS).modelInfer(addMul("m", 1))))
                    .isEqualTo(Status.Code.DEADLINE_EXCEEDED);
            stream.onCompleted();
            assertThat(code(() -> blocking.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(addMul("m", 1))))
                    .isEqualTo(Status.Code.OK);
        }
    }

    /**
     * Keepalive policy: a client pinging every 10 s (the shortest gRPC allows) against a server that permits one ping
     * per 30 s gets GOAWAY after its strikes; its next call reconnects. (Takes about 30 s: gRPC's own timing.)
     */
    @Test
    void clientsPingingTooOftenAreDisconnected() throws Exception {
        SecurityOptions tight = new SecurityOptions(null, null, null, null, false, 0, 0, RequestLimits.DEFAULTS, 100,
                30);
        try (TestServer t = server(tight)) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", t.server.grpcPort()).usePlaintext()
                    .keepAliveTime(10, TimeUnit.SECONDS).keepAliveWithoutCalls(true).build();
            try {
                var stub = GRPCInferenceServiceGrpc.newBlockingStub(ch);
                stub.modelInfer(addMul("m", 1));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                boolean dropped = false;
                while (!dropped && System.nanoTime() < deadline) {
                    Thread.sleep(1000);
                    io.grpc.ConnectivityState s = ch.getState(false);
                    dropped = s == io.grpc.ConnectivityState.IDLE || s == io.grpc.ConnectivityState.TRANSIENT_FAILURE;
                }
                assertThat(dropped).as("the server closed the connection of a client pinging too often").isTrue();
                assertThat(code(() -> stub.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(addMul("m", 1))))
                        .as("a new call reconnects").isEqualTo(Status.Code.OK);
            } finally {
                ch.shutdownNow();
            }
        }
    }

    @Test
    void tokenFileMistakesNameTheirLine() throws Exception {
        Path f = dir.resolve("bad-tokens");
        for (String[] c : List.of(
                new String[] {"abc app predict", "64 hex digits"},
                new String[] {TokenFile.hash("x") + " app sudo", "unknown role 'sudo'"},
                new String[] {TokenFile.hash("x") + " app", "expected <sha256 hex>"},
                new String[] {TokenFile.hash("x") + " a predict\n" + TokenFile.hash("x") + " b predict", "twice"},
                new String[] {TokenFile.hash("x") + " app predict allow=m", "models="})) {
            Files.writeString(f, c[0] + "\n");
            assertThatThrownBy(() -> TokenFile.parse(f)).hasMessageContaining(c[1]).hasMessageContaining(f + ":");
        }
    }
}
