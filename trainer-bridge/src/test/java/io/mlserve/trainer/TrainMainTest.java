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

/** Bad options are refused with a message and exit status 2 before Spark starts, and nothing is written. */
class TrainMainTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--threshold=2|threshold must be in (0, 1)",
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
                dir.resolve("models").toString()));
        args.addAll(List.of(option.split(" ")));
        assertThat(run(args.toArray(new String[0]))).contains(message);
        assertThat(dir.resolve("models")).doesNotExist();
    }

    @Test
    void refusesADirectoryWithoutData() {
        assertThat(run("--data", dir.toString(), "--registry", dir.resolve("models").toString()))
                .contains("no data.parquet there");
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
