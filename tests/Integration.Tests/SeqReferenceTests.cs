using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>A bigram language model: each of 6 token ids (vocabulary 7) predicts the next through a 4-wide embedding.</summary>
[Input(6)]
[Embedding(7, 4)]
[Dense(7, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class SeqBigramReference;

/// <summary>Embedding, a Tanh layer and a Softmax layer at every step, categorical cross-entropy per step.</summary>
[Input(5)]
[Embedding(6, 3)]
[Dense(8, Activation.Tanh)]
[Dense(4, Activation.Softmax)]
[Loss(Loss.CategoricalCrossEntropy)]
public partial class SeqHiddenReference;

/// <summary>Embedding and a linear layer at every step, mean squared error over every step and output.</summary>
[Input(4)]
[Embedding(5, 4)]
[Dense(3)]
[Loss(Loss.MeanSquaredError)]
public partial class SeqRegressionReference;

/// <summary>Dense over (T, F) features without an embedding: a per-step linear map of a real-valued sequence.</summary>
[Input(3, 2)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class SeqFeatureModel;

/// <summary>
/// Sequence models (Embedding, Dense at every step, losses over every step) against PyTorch's autograd (float64) on the
/// same parameters, against finite differences, and their data checks. Values in Reference/seq_reference.json, made by
/// make_seq_reference.py.
/// </summary>
public class SeqReferenceTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    /// <summary>The same formula as <c>value</c> in make_seq_reference.py.</summary>
    private static double Value(int i, int k) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    /// <summary>The same formula as <c>token</c> in make_seq_reference.py.</summary>
    private static int Token(int i, int vocabulary) => (7 * i + 3) % vocabulary;

    public static TheoryData<string> Models => new(["SeqBigramReference", "SeqHiddenReference", "SeqRegressionReference"]);

    private static IModel Create(string name) => name switch
    {
        "SeqBigramReference" => new SeqBigramReference(),
        "SeqHiddenReference" => new SeqHiddenReference(),
        _ => new SeqRegressionReference(),
    };

    private static void SetReferenceParameters(IModel model)
    {
        ReadOnlySpan<TensorInfo> tensors = model.Tensors;
        for (int k = 0; k < tensors.Length; k++)
            for (int i = 0; i < tensors[k].Length; i++)
                model.Parameters[tensors[k].Offset + i] = (float)Value(i, k);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LossOutputsAndGradientsMatchPyTorch(string name)
    {
        IModel model = Create(name);
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "seq_reference.json");
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("models").GetProperty(name);
        int batch = reference.GetProperty("batch").GetInt32();
        SetReferenceParameters(model);
        float[] x = Enumerable.Range(0, batch * model.InputSize).Select(i => (float)Token(i, model.InputVocabulary)).ToArray();
        Assert.Equal(reference.GetProperty("ids").EnumerateArray().Select(e => (float)e.GetInt32()), x);
        float[] t = reference.GetProperty("targets").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        Assert.Equal(batch * model.TargetSize, t.Length);
        var outputs = new float[batch * model.OutputSize];
        float loss = model.ComputeGradients(x, t, outputs, batch);

        double lossError = Math.Abs(loss - reference.GetProperty("loss").GetDouble());
        double outputError = MaxError(outputs, reference.GetProperty("outputs"));
        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        foreach (TensorInfo tensor in model.Tensors)
            gradientError = Math.Max(gradientError,
                MaxError(model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray(), gradients.GetProperty(tensor.Name)));
        Assert.Equal(gradients.EnumerateObject().Count(), model.Tensors.Length);
        Output?.WriteLine($"{name}: vs PyTorch 1.13 (float64): |Δloss| {lossError:E2}, max |Δoutput| {outputError:E2}, max |Δgrad| {gradientError:E2}");
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {reference.GetProperty("loss").GetDouble()}");
        Assert.True(outputError < 1e-5, $"outputs differ from PyTorch by {outputError}");
        Assert.True(gradientError < 1e-5, $"gradients differ from PyTorch by {gradientError}");
    }

    /// <summary>The bigram model's per-step cross-entropy, in double precision, from an arena [E 7x4 | W 7x4 | b 7].</summary>
    private static double BigramLoss(double[] p, int[] ids, int[] targets)
    {
        const int V = 7, D = 4, C = 7;
        double total = 0;
        for (int r = 0; r < ids.Length; r++)
        {
            var z = new double[C];
            for (int c = 0; c < C; c++)
            {
                double s = p[V * D + C * D + c];
                for (int d = 0; d < D; d++) s += p[V * D + c * D + d] * p[ids[r] * D + d];
                z[c] = s;
            }
            double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
            total += Math.Log(sum) + max - z[targets[r]];
        }
        return total / ids.Length;
    }

    [Fact]
    public void BigramGradientsMatchFiniteDifferences()
    {
        var model = new SeqBigramReference(seed: 3);
        const int Batch = 4;
        int[] ids = Enumerable.Range(0, Batch * 6).Select(i => (i * i + 2 * i) % 7).ToArray();
        int[] targets = Enumerable.Range(0, Batch * 6).Select(i => (3 * i + 1) % 7).ToArray();
        float loss = model.ComputeGradients(ids.Select(v => (float)v).ToArray(), targets.Select(v => (float)v).ToArray(), default, Batch);
        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        Assert.Equal(BigramLoss(p, ids, targets), loss, 1e-5);

        const double h = 1e-6;
        double maxError = 0;
        float[] gradients = model.Gradients.ToArray();
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + h;
            double plus = BigramLoss(p, ids, targets);
            p[i] = saved - h;
            double minus = BigramLoss(p, ids, targets);
            p[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double error = Math.Abs(numeric - gradients[i]) / Math.Max(1, Math.Abs(numeric));
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-5, $"parameter {i}: finite difference {numeric}, generated backward {gradients[i]}");
        }
        // Token 5 never occurs (ids are 0, 3, 1, 1, 3, 0, 6, 0, ...): its embedding row gets no gradient at all.
        Assert.DoesNotContain(5, ids);
        Assert.All(gradients.AsSpan(5 * 4, 4).ToArray(), g => Assert.Equal(0f, g));
        Output?.WriteLine($"bigram: {p.Length} parameters, max relative gradient error vs finite differences {maxError:E2}");
    }

    [Fact]
    public void ShapesAndSizesFollowTheSteps()
    {
        var model = new SeqBigramReference();
        Assert.Equal(6, SeqBigramReference.InputSize);
        Assert.Equal(6 * 7, SeqBigramReference.OutputSize);
        Assert.Equal(6, SeqBigramReference.TargetSize); // one class label per step
        Assert.Equal(6, ((IModel)model).OutputSteps);
        Assert.Equal(7, ((IModel)model).InputVocabulary);
        Assert.Equal(["layers.0.weight", "layers.1.weight", "layers.1.bias"], model.Tensors.ToArray().Select(t => t.Name));
        Assert.Equal([7, 4], model.Tensors[0].Shape);
        // The embedding starts at N(0, 1) as nn.Embedding's does (28 values: a loose check of the scale).
        float[] e = model.Parameters.Slice(0, 28).ToArray();
        double std = Math.Sqrt(e.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.6, 1.5);
        Assert.Equal(5 * 4, SeqHiddenReference.TargetSize); // 5 steps x 4 probabilities
        Assert.Equal(0, ((IModel)new SeqFeatureModel()).InputVocabulary);
    }

    [Fact]
    public void OutOfVocabularyIdThrowsNamingSampleAndPositionAndLeavesTheModelUntouched()
    {
        var model = new SeqBigramReference(seed: 1);
        float[] parameters = model.Parameters.ToArray();
        model.Gradients.Fill(0.25f);
        float[] x = Enumerable.Range(0, 12).Select(i => (float)(i % 7)).ToArray();
        x[6 + 4] = 7; // sample 1, position 4: one past the vocabulary
        float[] t = new float[12];

        var e = Assert.Throws<ArgumentException>(() => model.ComputeGradients(x, t, default, 2));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("position 4", e.Message);
        Assert.Contains("7", e.Message);
        Assert.Equal(parameters, model.Parameters.ToArray());
        Assert.All(model.Gradients.ToArray(), g => Assert.Equal(0.25f, g));

        x[10] = 2.5f; // not a whole number
        e = Assert.Throws<ArgumentException>(() => model.Forward(x, new float[2 * 42], 2));
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("2.5", e.Message);
        x[10] = -1;
        Assert.Throws<ArgumentException>(() => model.Predict(x, new float[2 * 42]));

        // Fit checks the whole data set before its first step: the parameters stay as they were.
        var train = new Dataset(Enumerable.Range(0, 60).Select(i => (float)(i % 7)).ToArray(), new float[60], 6, 6);
        x = Enumerable.Range(0, 60).Select(i => (float)(i % 7)).ToArray();
        x[9 * 6 + 2] = float.NaN;
        var bad = new Dataset(x, new float[60], 6, 6);
        e = Assert.Throws<ArgumentException>(() => model.Fit(bad, epochs: 1, batchSize: 2, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("train", e.ParamName);
        Assert.Contains("sample 9", e.Message);
        x[9 * 6 + 2] = 100;
        e = Assert.Throws<ArgumentException>(() => model.Fit(train, epochs: 1, batchSize: 2, validation: bad, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("validation", e.ParamName);
        Assert.Contains("sample 9", e.Message);
        Assert.Contains("position 2", e.Message);
        Assert.Equal(parameters, model.Parameters.ToArray());
        e = Assert.Throws<ArgumentException>(() => model.Predict(bad));
        Assert.Contains("sample 9", e.Message);
    }

    [Fact]
    public void PerStepLabelsAreCheckedNamingSampleAndStep()
    {
        var model = new SeqBigramReference();
        float[] t = Enumerable.Range(0, 12).Select(i => (float)(i % 7)).ToArray();
        t[6 + 3] = 7; // sample 1, step 3: not a class
        var data = new Dataset(Enumerable.Range(0, 12).Select(i => (float)(i % 7)).ToArray(), t, 6, 6);
        var e = Assert.Throws<ArgumentException>(() => model.Evaluate(data));
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("step 3", e.Message);
        // One label per sample (a classifier's targets) is not a sequence model's.
        e = Assert.Throws<ArgumentException>(() => model.Fit(new Dataset(new float[12], new float[2], 6, 1), epochs: 1,
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("6", e.Message);
    }

    [Fact]
    public void SequenceFeaturesOfTheWrongLengthOrNotFiniteAreRejected()
    {
        var model = new SeqFeatureModel();
        // (T, F) = (3, 2): 6 features per sample. A sequence of 2 steps is the wrong length.
        var e = Assert.Throws<ArgumentException>(() => model.Fit(new Dataset(new float[8], new float[6], 4, 3), epochs: 1,
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("train", e.ParamName);
        Assert.Contains("4 features", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Predict(new float[5], new float[6]));
        Assert.Equal("input", e.ParamName);
        float[] x = new float[12];
        x[6 + 5] = float.NaN;
        e = Assert.Throws<ArgumentException>(() => model.Evaluate(new Dataset(x, new float[6], 6, 3)));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("sample 1", e.Message);
        Assert.Contains("NaN", e.Message);
        // Token inputs of the wrong length name the argument too.
        e = Assert.Throws<ArgumentException>(() => new SeqBigramReference().Fit(new Dataset(new float[10], new float[10], 5, 5), epochs: 1,
            cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal("train", e.ParamName);
        Assert.Contains("5 features", e.Message);
    }

    [Fact]
    public void PerStepAccuracyCountsTheFractionOfStepsRight()
    {
        var model = new SeqFeatureModel(seed: 2);
        float[] x = Enumerable.Range(0, 4 * 6).Select(i => (float)Value(i, 9)).ToArray();
        var outputs = new float[4 * 6];
        model.Forward(x, outputs, 4);
        // Labels: the predicted class at the first step of each sample, the other class at the two others → 1/3 right.
        var t = new float[4 * 3];
        for (int s = 0; s < 12; s++)
        {
            int predicted = outputs[2 * s] >= outputs[2 * s + 1] ? 0 : 1;
            t[s] = s % 3 == 0 ? predicted : 1 - predicted;
        }
        Evaluation result = model.Evaluate(new Dataset(x, t, 6, 3));
        Assert.Equal(1.0 / 3, result.Accuracy, 1e-12);
        double expected = 0;
        for (int s = 0; s < 12; s++) expected -= Math.Log(outputs[2 * s + (int)t[s]]);
        Assert.Equal(expected / 12, result.Loss, 1e-5);
    }

    [Fact]
    public void AnEmbeddingModelRoundTripsThroughSafetensors()
    {
        var model = new SeqBigramReference(seed: 5);
        string path = Path.Combine(Path.GetTempPath(), $"compiled-seq-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            SeqBigramReference loaded = SeqBigramReference.Load(path);
            Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());
            float[] x = Enumerable.Range(0, 6).Select(i => (float)(i * 3 % 7)).ToArray();
            float[] a = new float[42], b = new float[42];
            model.Forward(x, a, 1);
            loaded.Forward(x, b, 1);
            Assert.Equal(a, b);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static double MaxError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o)).Max();
    }
}
