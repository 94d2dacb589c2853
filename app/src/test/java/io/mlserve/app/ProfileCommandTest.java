package io.mlserve.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.drift.ReferenceProfile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./mlserve profile} on a CSV: columns in order, categories, seasons, the score; bad columns refused. */
class ProfileCommandTest {
    @TempDir
    Path dir;

    @Test
    void profilesACsvInTheModelsColumnOrder() throws Exception {
        StringBuilder csv = new StringBuilder("t,id,x:0,x:1,colour,p\n");
        for (int i = 0; i < 400; i++) {
            long t = 1_700_000_000_000L + i * 86_400_000L; // 400 days: every quarter
            csv.append(t).append(",c").append(i).append(',').append(i % 10).append(',')
                    .append(i % 7 == 0 ? "" : Double.toString(i / 4.0)).append(',')
                    .append(i % 3 == 0 ? "red" : "blue").append(',').append((i % 100) / 100.0).append('\n');
        }
        Files.writeString(dir.resolve("d.csv"), csv);
        Path out = dir.resolve("profile.json");
        assertThat(new CommandLine(new ProfileCommand()).execute("--data", dir.resolve("d.csv").toString(), "--out",
                out.toString(), "--time-column", "t", "--score-column", "p", "--exclude", "id")).isZero();
        ReferenceProfile p = ReferenceProfile.read(out);
        assertThat(p.rows()).isEqualTo(400);
        assertThat(p.features()).extracting(ReferenceProfile.Feature::name).containsExactly("x:0", "x:1", "colour");
        assertThat(p.features()).extracting(ReferenceProfile.Feature::index).containsExactly(0, 1, 2);
        ReferenceProfile.Numeric x1 = (ReferenceProfile.Numeric) p.features().get(1);
        assertThat(x1.overall().missing()).isEqualTo(58); // every 7th of 400 rows is empty
        assertThat(x1.seasons()).containsOnlyKeys("Q1", "Q2", "Q3", "Q4");
        ReferenceProfile.Categorical colour = (ReferenceProfile.Categorical) p.features().get(2);
        assertThat(colour.vocabulary()).containsExactly("blue", "red");
        assertThat(colour.overall().counts()).containsExactly(266, 134);
        assertThat(p.score().overall().count()).isEqualTo(400);
        assertThat(p.probabilities()).hasSize(99);
    }

    @Test
    void refusesAColumnTheFileLacks() throws Exception {
        Files.writeString(dir.resolve("d.csv"), "a,b\n1,2\n");
        StringWriter err = new StringWriter();
        int code = new CommandLine(new ProfileCommand()).setErr(new PrintWriter(err)).execute("--data",
                dir.resolve("d.csv").toString(), "--out", dir.resolve("p.json").toString(), "--columns", "a,c");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("no column 'c'");
        assertThat(dir.resolve("p.json")).doesNotExist();
    }
}
