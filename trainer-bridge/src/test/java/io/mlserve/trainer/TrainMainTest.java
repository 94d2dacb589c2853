package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/**
 * Bad options are refused with a message and exit status 2 before Spark starts, and nothing is written; bad data
 * (a missing column, a label that is not 0/1, text in a numeric column) the same once Spark has read it.
 */
class TrainMainTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--threshold=2|threshold must be in (0, 1)",
        "--cost-ratio=0|cost ratio must be a positive number",
        "--threshold=0.3 --cost-ratio=4|give a threshold or a cost ratio, not both",
        "--grid=noSuch=1|LogisticRegression has no parameter 'noSuch'",
        "--grid=regParam|grid axis must be name=v1,v2",
        "--holdout=1.5|holdout must be in (0, 1)",
        "--trees=0|trees and depth must be at least 1",
        "--gate-margin=NaN|gate margin must be a finite number",
        "--algorithm=svm|algorithm must be lr, gbt or mlp",
        "--algorithm=mlp --grid=regParam=1|mlp has no search grid",
        "--epochs=0|epochs must be at least 1",
        "--algorithm=mlp --balance=undersample|balance must be weights or smote"})
    void refusesBadOptions(String option, String message) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("data.parquet"), "not read: the options fail first");
        List<String> args = new ArrayList<>(List.of("--data", data.toString(), "--registry",
                dir.resolve("models").toString(), "--config", config().toString(), "--model", "m"));
        args.addAll(List.of(option.split(" ")));
        assertThat(run(args.toArray(new String[0]))).contains(message);
        assertThat(dir.resolve("models")).doesNotExist();
    }

    private Path config() throws Exception {
        return SensorView.writeConfig(dir);
    }

    @Test
    void refusesADirectoryWithoutDataAnUnknownViewAndAMissingConfig() throws Exception {
        String[] base = {"--registry", dir.resolve("models").toString(), "--model", "m"};
        assertThat(run(concat(base, "--data", dir.toString(), "--config", config().toString())))
                .contains("neither data.parquet nor data.csv there");
        Files.createDirectories(dir.resolve("d"));
        Files.writeString(dir.resolve("d/data.csv"), "device,event_time,temp,site,label\n");
        assertThat(run(concat(base, "--data", dir.resolve("d").toString(), "--config", config().toString(),
                "--view", "nope"))).contains("no feature view 'nope'; it has sensor");
        assertThat(run(concat(base, "--data", dir.resolve("d").toString(), "--config",
                dir.resolve("nope.yaml").toString()))).contains("nope.yaml: no such file");
        assertThat(run(concat(base, "--data", dir.resolve("d").toString(), "--config", config().toString(),
                "--window-days", "7"))).contains("is none");
        assertThat(run(concat(base, "--data", dir.resolve("d").toString(), "--config", config().toString(),
                "--label", "temp"))).contains("the label 'temp' is also a feature");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "device,event_time,temp,label|no column 'site' (a feature of view 'sensor')",
        "device,event_time,temp,site|no column 'label' (the label (--label))",
        "event_time,temp,site,label|no column 'device' (the entity key of view 'sensor')",
        "device,event_time,temp,site,label;d1,1000,hot,a,1|column 'temp' holds 'hot', which is not a number",
        "device,event_time,temp,site,label;d1,1000,3,a,2;d2,2000,4,b,0|label 'label' must be 0 or 1"})
    void refusesBadDataInOneLine(String csv, String message) throws Exception {
        Path d = Files.createDirectories(dir.resolve("bad"));
        Files.writeString(d.resolve("data.csv"), csv.replace(';', '\n') + "\n");
        String err = run("--registry", dir.resolve("models").toString(), "--model", "m", "--data", d.toString(),
                "--config", config().toString(), "--spark-master", "local[1]");
        assertThat(err).contains(message);
        assertThat(err.lines().filter(l -> l.startsWith("\tat ")).count()).as("no stack trace").isZero();
        assertThat(dir.resolve("models/m")).doesNotExist();
    }

    private static String[] concat(String[] a, String... b) {
        List<String> all = new ArrayList<>(List.of(a));
        all.addAll(List.of(b));
        return all.toArray(new String[0]);
    }

    private static String run(String... args) {
        StringWriter err = new StringWriter();
        PrintWriter out = new PrintWriter(err);
        int code = new CommandLine(new TrainMain()).setErr(out).execute(args);
        out.flush();
        assertThat(code).as(err.toString()).isEqualTo(2);
        return err.toString();
    }
}
