package io.mlserve.trainer;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A multilayer perceptron trained with DJL on its PyTorch engine (the CPU libraries come from Maven; DJL is
 * kept offline so it never downloads). Input: the design matrix the {@code Preprocessing} graph computes; hidden
 * layers with ReLU; one logit out. Class imbalance on the training split: row weights in the loss, or SMOTE-style
 * oversampling ({@link #smote}). Its weights are written into a Gemm/Relu graph by the caller.
 */
final class MlpTrainer {
    static {
        // never fetch anything: the natives are on the classpath (pytorch-native-cpu)
        System.setProperty("offline", "true");
    }

    /**
     * The fitted network: per layer, weights [out × in] row-major and biases [out], and the probabilities DJL
     * itself computes for the rows it was asked to score.
     */
    record Fitted(List<float[]> weights, List<float[]> biases, int[] widths, float[] scores) {
    }

    private MlpTrainer() {
    }

    /**
     * Binary cross-entropy on logits with a weight per row (the second label array): w · (max(z, 0) − z·y +
     * log(1 + e^−|z|)), averaged over the batch — the numerically stable form.
     */
    static final class WeightedBinaryCrossEntropy extends Loss {
        WeightedBinaryCrossEntropy() {
            super("WeightedBCE");
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            NDArray z = predictions.singletonOrThrow();
            NDArray y = labels.get(0);
            NDArray w = labels.get(1);
            NDArray loss = z.maximum(0f).sub(z.mul(y)).add(z.abs().neg().exp().add(1f).log());
            return loss.mul(w).mean();
        }
    }

    /**
     * Trains on {@code x} (n × d, row-major) with labels {@code y} (0/1) and row weights {@code w}, then scores
     * {@code score} (m × d).
     *
     * @param hidden units per hidden layer
     */
    static Fitted fit(float[] x, float[] y, float[] w, int d, float[] score, int[] hidden, int epochs, int batch,
                      float learningRate, long seed) {
        Engine engine = Engine.getEngine("PyTorch");
        engine.setRandomSeed((int) seed);
        int n = y.length;
        SequentialBlock net = new SequentialBlock();
        for (int units : hidden) {
            net.add(Linear.builder().setUnits(units).build()).add(Activation.reluBlock());
        }
        net.add(Linear.builder().setUnits(1).build());
        try (Model model = Model.newInstance("mlp", "PyTorch");
             NDManager manager = engine.newBaseManager()) {
            model.setBlock(net);
            NDArray features = manager.create(x, new Shape(n, d));
            NDArray labels = manager.create(y, new Shape(n, 1));
            NDArray rowWeights = manager.create(w, new Shape(n, 1));
            ArrayDataset data = new ArrayDataset.Builder().setData(features).optLabels(labels, rowWeights)
                    .setSampling(batch, true).build();
            DefaultTrainingConfig config = new DefaultTrainingConfig(new WeightedBinaryCrossEntropy())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(learningRate)).build())
                    .optDevices(new Device[] {Device.cpu()});
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(batch, d));
                EasyTrain.fit(trainer, epochs, data, null);
            } catch (java.io.IOException | ai.djl.translate.TranslateException e) {
                throw new IllegalStateException("MLP training failed: " + e.getMessage(), e);
            }
            List<float[]> weights = new ArrayList<>();
            List<float[]> biases = new ArrayList<>();
            int[] widths = new int[hidden.length + 2];
            widths[0] = d;
            for (Pair<String, Parameter> p : net.getParameters()) {
                NDArray a = p.getValue().getArray();
                if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                    weights.add(a.toFloatArray());
                    widths[weights.size()] = (int) a.getShape().get(0);
                } else {
                    biases.add(a.toFloatArray());
                }
            }
            int m = score.length / d;
            NDArray logits = net.forward(new ParameterStore(manager, false),
                    new NDList(manager.create(score, new Shape(m, d))), false).singletonOrThrow();
            float[] p = Activation.sigmoid(logits).toFloatArray();
            return new Fitted(weights, biases, widths, p);
        }
    }

    /**
     * SMOTE-style oversampling of the positive class, on the training split only: new positives on the segment
     * between a positive and one of its {@code k} nearest positives (searched among {@code pool} random ones),
     * in the numeric part of the design matrix (columns {@code [0, numeric)}); the other columns (one-hot codes)
     * are copied from the first of the two. Adds positives until both classes have the same count.
     *
     * @return {x, y} with the synthetic rows appended
     */
    static float[][] smote(float[] x, float[] y, int d, int numeric, int k, int pool, long seed) {
        int n = y.length;
        List<Integer> pos = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (y[i] == 1) {
                pos.add(i);
            }
        }
        int add = n - 2 * pos.size();
        if (add <= 0 || pos.size() < 2) {
            return new float[][] {x, y};
        }
        SplittableRandom r = new SplittableRandom(seed);
        float[] nx = java.util.Arrays.copyOf(x, (n + add) * d);
        float[] ny = java.util.Arrays.copyOf(y, n + add);
        int[] candidates = new int[Math.min(pool, pos.size())];
        double[] dist = new double[candidates.length];
        for (int s = 0; s < add; s++) {
            int a = pos.get(r.nextInt(pos.size()));
            for (int c = 0; c < candidates.length; c++) {
                int b = pos.get(r.nextInt(pos.size()));
                candidates[c] = b;
                double sum = 0;
                for (int j = 0; j < numeric; j++) {
                    double diff = x[a * d + j] - x[b * d + j];
                    sum += diff * diff;
                }
                dist[c] = b == a ? Double.MAX_VALUE : sum;
            }
            // one of the k nearest candidates
            int pick = r.nextInt(Math.min(k, candidates.length));
            int b = candidates[kthSmallest(dist, pick)];
            float u = (float) r.nextDouble();
            int to = (n + s) * d;
            for (int j = 0; j < d; j++) {
                float va = x[a * d + j];
                nx[to + j] = j < numeric ? va + u * (x[b * d + j] - va) : va;
            }
            ny[n + s] = 1;
        }
        return new float[][] {nx, ny};
    }

    /** Index of the element of rank {@code rank} (0 = smallest) in {@code v}. */
    private static int kthSmallest(double[] v, int rank) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) {
            idx[i] = i;
        }
        java.util.Arrays.sort(idx, (a, b) -> Double.compare(v[a], v[b]));
        return idx[rank];
    }
}
