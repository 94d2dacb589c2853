package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mlserve.app.ServeCommand;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.security.TokenFile;
import io.mlserve.server.http.RestHandler;
import io.netty.handler.codec.http.HttpMethod;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The operator's kit in deploy/ is checked against the code: every Kubernetes document parses and hangs together
 * (selectors, ports, probes on open health endpoints), the server's arguments parse with the real command line, the
 * trainer's name real options, and every metric the alert rules and the Grafana dashboard query is one the server
 * exports.
 */
class DeployKitTest {
    private static final Path DEPLOY = Path.of(System.getProperty("user.dir")).resolve("../deploy").normalize();
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern METRIC = Pattern.compile("\\b((?:mlserve|jvm)_[a-z0-9_]+)");

    @TempDir
    Path dir;

    private static List<JsonNode> documents(Path file) throws Exception {
        List<JsonNode> docs = new ArrayList<>();
        try (var it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNext()) {
                JsonNode d = (JsonNode) it.next();
                if (d != null && !d.isNull() && !d.isMissingNode()) {
                    docs.add(d);
                }
            }
        }
        return docs;
    }

    @Test
    void kubernetesManifestsHangTogetherAndTheirArgumentsParse() throws Exception {
        Map<String, JsonNode> byKindName = new HashMap<>();
        for (String f : List.of("mlserve.yaml", "trainer.yaml")) {
            for (JsonNode d : documents(DEPLOY.resolve("k8s").resolve(f))) {
                assertThat(d.path("apiVersion").asText()).as(f).isNotEmpty();
                assertThat(d.path("metadata").path("name").asText()).as(f).isNotEmpty();
                byKindName.put(d.path("kind").asText() + "/" + d.path("metadata").path("name").asText(), d);
            }
        }
        assertThat(byKindName).containsKeys("Deployment/mlserve", "Service/mlserve", "HorizontalPodAutoscaler/mlserve",
                "PodDisruptionBudget/mlserve", "Deployment/mlserve-trainer", "Service/mlserve-trainer");

        JsonNode server = byKindName.get("Deployment/mlserve");
        JsonNode labels = server.path("spec").path("template").path("metadata").path("labels");
        assertThat(server.path("spec").path("selector").path("matchLabels")).isEqualTo(labels);
        assertThat(byKindName.get("Service/mlserve").path("spec").path("selector")).isEqualTo(labels);
        assertThat(byKindName.get("PodDisruptionBudget/mlserve").path("spec").path("selector").path("matchLabels"))
                .isEqualTo(labels);
        assertThat(byKindName.get("HorizontalPodAutoscaler/mlserve").path("spec").path("scaleTargetRef").path("name")
                .asText()).isEqualTo("mlserve");
        JsonNode c = server.path("spec").path("template").path("spec").path("containers").get(0);
        Set<Integer> ports = new HashSet<>();
        c.path("ports").forEach(p -> ports.add(p.path("containerPort").asInt()));
        assertThat(ports).containsExactlyInAnyOrder(ServerOptions.DEFAULT_HTTP_PORT, ServerOptions.DEFAULT_GRPC_PORT,
                ServerOptions.DEFAULT_METRICS_PORT);
        for (String probe : List.of("readinessProbe", "livenessProbe")) {
            String path = c.path(probe).path("httpGet").path("path").asText();
            assertThat(RestHandler.open(HttpMethod.GET, path)).as("%s %s needs no token", probe, path).isTrue();
        }
        // the container's arguments parse with the server's real command line
        List<String> args = new ArrayList<>();
        c.path("args").forEach(a -> args.add(a.asText().replace("$(POD_NAME)", "pod-0")));
        assertThat(args.get(0)).isEqualTo("serve");
        CommandLine.ParseResult parsed = new CommandLine(new ServeCommand())
                .parseArgs(args.subList(1, args.size()).toArray(new String[0]));
        assertThat(parsed.errors()).isEmpty();
        assertThat(parsed.matchedOptionValue("--mlflow-uri", "")).isEqualTo("http://mlflow:5000");

        // the trainer's arguments name options its command has
        JsonNode trainer = byKindName.get("Deployment/mlserve-trainer").path("spec").path("template").path("spec")
                .path("containers").get(0);
        String trainerSource = Files.readString(DEPLOY.resolve(
                "../trainer-bridge/src/main/java/io/mlserve/trainer/TrainerMain.java").normalize())
                + Files.readString(DEPLOY.resolve(
                "../trainer-bridge/src/main/java/io/mlserve/trainer/MlflowFlags.java").normalize());
        // the trainer image's entrypoint is the trainer service itself (deploy/image/build)
        assertThat(trainer.path("image").asText()).isEqualTo("mlserve-trainer:0.1.0");
        assertThat(trainer.path("args").size()).isPositive();
        for (int i = 0; i < trainer.path("args").size(); i++) {
            String flag = trainer.path("args").get(i).asText().split("=")[0];
            assertThat(trainerSource).as("trainer option %s", flag).contains("names = \"" + flag + "\"");
        }
        assertThat(trainer.path("ports").get(0).path("containerPort").asInt()).isEqualTo(8010);

        // one loop: the trainer publishes to the MLflow the servers read, with the same token; the servers send jobs
        // to the trainer's Service, with their data on the Kafka topics the trainer reads
        Map<String, String> t = new HashMap<>();
        trainer.path("args").forEach(a -> t.put(a.asText().split("=")[0], a.asText().substring(
                a.asText().indexOf('=') + 1)));
        assertThat(t.get("--mlflow-uri")).isEqualTo(parsed.matchedOptionValue("--mlflow-uri", ""));
        assertThat(t.get("--mlflow-token-file")).isEqualTo(parsed.matchedOptionValue("--mlflow-token-file",
                Path.of("")).toString());
        assertThat(secretOf(byKindName.get("Deployment/mlserve-trainer"), "/etc/mlserve/mlflow/token"))
                .isEqualTo(secretOf(byKindName.get("Deployment/mlserve"), "/etc/mlserve/mlflow/token"))
                .isNotNull();
        JsonNode trainerService = byKindName.get("Service/mlserve-trainer");
        assertThat(parsed.matchedOptionValue("--trainer", "")).isEqualTo(trainerService.path("metadata")
                .path("name").asText() + ":" + trainerService.path("spec").path("ports").get(0).path("port").asInt());
        assertThat(parsed.matchedOptionValue("--prediction-log-kafka", "")).isEqualTo(t.get("--kafka"));
        assertThat(parsed.matchedOptionValue("--outcomes-kafka", "")).isEqualTo(t.get("--kafka"));
    }

    /** The Secret mounted where {@code file} lies, in a Deployment's first container; null when none is. */
    private static String secretOf(JsonNode deployment, String file) {
        JsonNode spec = deployment.path("spec").path("template").path("spec");
        for (JsonNode m : spec.path("containers").get(0).path("volumeMounts")) {
            if (file.startsWith(m.path("mountPath").asText() + "/")) {
                for (JsonNode v : spec.path("volumes")) {
                    if (v.path("name").asText().equals(m.path("name").asText())) {
                        return v.path("secret").path("secretName").asText(null);
                    }
                }
            }
        }
        return null;
    }

    @Test
    void alertRulesAndTheDashboardQueryMetricsTheServerExports() throws Exception {
        Path repo = dir.resolve("models");
        ExampleModels.addMul().writeTo(repo.resolve("m/1/model.onnx"));
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, TokenFile.hash("t") + " ops admin\n");
        Set<String> exported = new HashSet<>();
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withSecurity(SecurityOptions.defaults().withAuth(tokens, true)))) {
            for (MetricSnapshot s : t.server.metrics().registry().scrape()) {
                String name = s.getMetadata().getPrometheusName();
                exported.add(name);
                if (s instanceof CounterSnapshot) {
                    exported.add(name + "_total");
                } else if (s instanceof HistogramSnapshot) {
                    exported.addAll(List.of(name + "_bucket", name + "_count", name + "_sum"));
                }
            }
        }
        assertThat(exported).contains("mlserve_request_success_total", "mlserve_auth_denied_total",
                "mlserve_quality_auc", "mlserve_rollout_events_total");

        Set<String> queried = new HashSet<>();
        JsonNode prometheus = YAML.readTree(DEPLOY.resolve("prometheus/prometheus.yml").toFile());
        assertThat(prometheus.path("rule_files").toString()).contains("alerts.yml");
        JsonNode rules = YAML.readTree(DEPLOY.resolve("prometheus/alerts.yml").toFile());
        int alerts = 0;
        for (JsonNode group : rules.path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                assertThat(rule.path("alert").asText()).isNotEmpty();
                assertThat(rule.path("annotations").path("summary").asText()).isNotEmpty();
                queried.addAll(metrics(rule.path("expr").asText()));
                alerts++;
            }
        }
        assertThat(alerts).isGreaterThanOrEqualTo(10);
        JsonNode dashboard = new ObjectMapper().readTree(DEPLOY.resolve("grafana/mlserve-dashboard.json").toFile());
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(ids.add(panel.path("id").asInt())).as("panel ids are unique").isTrue();
            assertThat(panel.path("targets")).isNotEmpty();
            panel.path("targets").forEach(target -> queried.addAll(metrics(target.path("expr").asText())));
        }
        assertThat(queried).hasSizeGreaterThan(20);
        assertThat(exported).as("metrics the kit queries that the server does not export")
                .containsAll(queried);
    }

    private static Set<String> metrics(String expr) {
        Set<String> names = new HashSet<>();
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }
}
