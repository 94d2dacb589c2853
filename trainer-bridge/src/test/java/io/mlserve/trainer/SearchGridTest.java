package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.spark.ml.classification.GBTClassifier;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.param.ParamMap;
import org.junit.jupiter.api.Test;

/** Grid parsing and its mapping onto Spark's parameters; the search itself runs in ModelTrainerTest. */
class SearchGridTest {
    @Test
    void buildsTheCrossProductWithTypedValues() {
        LogisticRegression lr = new LogisticRegression();
        ParamMap[] maps = SearchGrid.parse("regParam=0.0001,0.01; elasticNetParam=0,0.5").paramMaps(lr);
        assertThat(maps).hasSize(4);
        assertThat(maps).extracting(m -> (Double) m.apply(lr.regParam())).containsOnly(0.0001, 0.01);
        GBTClassifier gbt = new GBTClassifier();
        ParamMap[] trees = SearchGrid.parse("maxDepth=3,5,7").paramMaps(gbt);
        assertThat(trees).extracting(m -> (Integer) m.apply(gbt.maxDepth())).containsExactlyInAnyOrder(3, 5, 7);
        assertThat(SearchGrid.parse("").isEmpty()).isTrue();
    }

    @Test
    void rejectsWhatItCannotUse() {
        assertThatThrownBy(() -> SearchGrid.parse("regParam")).hasMessageContaining("name=v1,v2");
        assertThatThrownBy(() -> SearchGrid.parse("regParam=1;regParam=2")).hasMessageContaining("twice");
        assertThatThrownBy(() -> SearchGrid.parse("noSuch=1").paramMaps(new LogisticRegression()))
                .hasMessageContaining("no parameter 'noSuch'");
        assertThatThrownBy(() -> SearchGrid.parse("maxDepth=deep").paramMaps(new GBTClassifier()))
                .hasMessageContaining("maxDepth");
        assertThatThrownBy(() -> SearchGrid.parse("featuresCol=x").paramMaps(new LogisticRegression()))
                .hasMessageContaining("neither integer nor double");
    }
}
