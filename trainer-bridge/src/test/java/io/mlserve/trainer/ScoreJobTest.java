package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobKind;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.ScoreSpec;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SCORE job on the trainer: a generated data set scored on Spark (local) with a model and its encoding, checked
 * row by row against ONNX Runtime on the same rows read from the CSV here; bad SCORE requests are refused before
 * anything is queued.
 */
class ScoreJobTest {
    @TempDir
    Path dir;

    @Test
    void scoresOnSparkAsOnnxRuntimeDoesAndRefusesBadRequests() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(3_000, 1, 4)).generate(data);
        int width = ChurnSchema.COLUMNS.size();
        List<Preprocessing.Column> cols = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < width; i++) {
            ChurnSchema.Column c = ChurnSchema.COLUMNS.get(i);
            cols.add(c.categorical() ? new Preprocessing.Categorical(i, c.vocabulary().size())
                    : new Preprocessing.Numeric(i, 1, 1, 1 + r.nextDouble(20)));
        }
        Preprocessing pre = new Preprocessing(width, cols);
        double[] w = new double[pre.outputWidth()];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextDouble(-0.5, 0.5);
        }
        Path model = dir.resolve("models/churn/1/model.onnx");
        Exporters.logisticRegression("churn", pre, w, -1).writeTo(model);
        StringBuilder inputs = new StringBuilder();
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            inputs.append(inputs.length() == 0 ? "" : ",").append(c.categorical()
                    ? "{\"name\":\"" + c.name() + "\",\"type\":\"category\",\"default\":-1,\"vocabulary\":["
                    + String.join(",", c.vocabulary().stream().map(v -> "\"" + v + "\"").toList()) + "]}"
                    : "{\"name\":\"" + c.name() + "\",\"type\":\"number\",\"default\":null}");
        }
        String encoding = "{\"model\":\"churn\",\"version\":1,\"model_file\":\"" + model + "\",\"entity_key\":"
                + "\"customer_id\",\"event_time_column\":\"event_time\",\"inputs\":[" + inputs + "]}";

        TrainerJobs jobs = new TrainerJobs(dir.resolve("models"), TrainerJobs.Defaults.NONE, "local[2]", 10);
        try {
            assertThatThrownBy(() -> jobs.submit(JobRequest.newBuilder().setKind(JobKind.SCORE).setModelName("churn")
                    .setScore(ScoreSpec.newBuilder().setData("x").setOut("y")).build(), "grpc"))
                    .hasMessageContaining("score.encoding");
            assertThatThrownBy(() -> jobs.submit(JobRequest.newBuilder().setKind(JobKind.SCORE).setModelName("other")
                    .setScore(ScoreSpec.newBuilder().setData("x").setOut("y").setEncoding(encoding)).build(), "grpc"))
                    .hasMessageContaining("for model 'churn'");
            Path out = dir.resolve("scores");
            Job job = jobs.submit(JobRequest.newBuilder().setKind(JobKind.SCORE).setModelName("churn")
                    .setScore(ScoreSpec.newBuilder().setData(data.resolve("data.parquet").toString())
                            .setOut(out.toString()).setEncoding(encoding).setBatch(500)).build(), "grpc").getJob();
            long deadline = System.nanoTime() + 300_000_000_000L;
            Job done = job;
            while (done.getState() == JobState.QUEUED || done.getState() == JobState.RUNNING) {
                assertThat(System.nanoTime()).as("the job ends within 5 minutes").isLessThan(deadline);
                Thread.sleep(200);
                done = jobs.get(GetJobRequest.newBuilder().setJobId(job.getJobId()).build());
            }
            assertThat(done.getState()).as(done.getMessage()).isEqualTo(JobState.SUCCEEDED);
            assertThat(done.getScored().getRows()).isEqualTo(3_000);

            Map<String, Float> got = new HashMap<>();
            try (var parts = Files.list(out)) {
                for (Path part : parts.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
                    try (ParquetReader<Group> pr = ParquetReader.builder(new GroupReadSupport(),
                            new org.apache.hadoop.fs.Path(part.toUri())).withConf(new Configuration(false)).build()) {
                        for (Group g = pr.read(); g != null; g = pr.read()) {
                            got.put(g.getString("customer_id", 0) + "@" + g.getLong("event_time", 0),
                                    g.getFloat("score", 0));
                        }
                    }
                }
            }
            // the same rows read from the CSV here, encoded (numbers; categories by vocabulary; empty = missing)
            List<String> lines = Files.readAllLines(data.resolve("data.csv"));
            List<String> header = List.of(lines.get(0).split(","));
            float[] x = new float[(lines.size() - 1) * width];
            List<String> keys = new ArrayList<>();
            for (int i = 1; i < lines.size(); i++) {
                String[] c = lines.get(i).split(",", -1);
                for (int j = 0; j < width; j++) {
                    ChurnSchema.Column col = ChurnSchema.COLUMNS.get(j);
                    String v = c[header.indexOf(col.name())];
                    x[(i - 1) * width + j] = v.isEmpty() ? (col.categorical() ? -1 : Float.NaN)
                            : col.categorical() ? col.vocabulary().indexOf(v) : Float.parseFloat(v);
                }
                keys.add(c[header.indexOf("customer_id")] + "@" + c[header.indexOf("event_time")]);
            }
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
                 OrtSession s = env.createSession(model.toString(), so);
                 OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {keys.size(), width});
                 OrtSession.Result res = s.run(Map.of("features", t))) {
                FloatBuffer p = ((OnnxTensor) res.get(0)).getFloatBuffer();
                assertThat(got).hasSize(keys.size());
                for (int i = 0; i < keys.size(); i++) {
                    assertThat(got.get(keys.get(i))).as(keys.get(i)).isCloseTo(p.get(i),
                            org.assertj.core.data.Offset.offset(1e-6f));
                }
            }
        } finally {
            jobs.close();
        }
    }
}
