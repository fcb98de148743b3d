using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Compiled.Onnx.Tests;

/// <summary>
/// Exported models loaded in ONNX Runtime (CPU provider) against <c>Predict</c> on the same weights and random inputs.
/// The weights are random, biases included (a freshly initialised model has zero biases, which would hide a misplaced one).
/// </summary>
public class OnnxExportTests
{
    private const double Bar = 1e-5;

    [Fact]
    public void EveryActivationMlpMatchesOnnxRuntime() => MatchesOnnxRuntime(new EveryActivationMlp(), [20], batch: 9);

    [Fact]
    public void MnistCnnMatchesOnnxRuntime() => MatchesOnnxRuntime(new MnistCnn(), [28, 28, 1], batch: 5);

    [Fact]
    public void PaddedCnnMatchesOnnxRuntime() => MatchesOnnxRuntime(new PaddedCnn(), [13, 11, 3], batch: 6);

    [Fact]
    public void ConvHeadMatchesOnnxRuntime() => MatchesOnnxRuntime(new ConvHead(), [6, 5, 2], batch: 4);

    [Fact]
    public void FlattenFirstMatchesOnnxRuntime() => MatchesOnnxRuntime(new FlattenFirst(), [4, 3, 2], batch: 3);

    [Fact]
    public void BatchNormNetMatchesOnnxRuntime() => MatchesOnnxRuntime(new BatchNormNet(), [8, 8, 2], batch: 5, prepare: model =>
    {
        // Running statistics far from (0, 1), so the exported BatchNormalization must use them to match.
        var random = new Random(7);
        Span<float> buffers = model.Buffers;
        foreach (TensorInfo tensor in model.BufferTensors)
        {
            if (tensor.DataType != TensorDataType.Float32) continue;
            bool variance = tensor.Name.EndsWith("running_var", StringComparison.Ordinal);
            for (int i = 0; i < tensor.Length; i++)
                buffers[tensor.Offset + i] = variance ? 0.2f + 3 * random.NextSingle() : 2 * random.NextSingle() - 1;
        }
    });

    [Fact]
    public void TokenBigramMatchesOnnxRuntime() => MatchesOnnxRuntime(new TokenBigram(), [6], batch: 4, input: random => random.Next(7));

    [Fact]
    public void RecurrentStackMatchesOnnxRuntime() => MatchesOnnxRuntime(new RecurrentStack(), [5, 3], batch: 4);

    [Fact]
    public void LstmPerStepMatchesOnnxRuntime() => MatchesOnnxRuntime(new LstmPerStep(), [4, 2], batch: 3);

    [Fact]
    public void ExportOnnxWritesTheFileOrtLoads()
    {
        var model = new MnistCnn(seed: 3);
        string path = Path.Combine(Path.GetTempPath(), $"compiled-onnx-{Environment.ProcessId}-mnist.onnx");
        try
        {
            model.ExportOnnx(path);
            using var session = new InferenceSession(path);
            NodeMetadata input = session.InputMetadata["input"], output = session.OutputMetadata["output"];
            Assert.Equal([-1, 28, 28, 1], input.Dimensions);
            Assert.Equal("batch", input.SymbolicDimensions[0]);
            Assert.Equal([-1, 10], output.Dimensions);
            Assert.Equal(File.ReadAllBytes(path), model.ToOnnx());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnknownLayerKindIsNotSupportedAndNamed()
    {
        var model = new FakeModel(new LayerInfo("Attention", "encoder.attention", Activation.None, [5, 3], [8], [], 0));
        NotSupportedException e = Assert.Throws<NotSupportedException>(() => model.ToOnnx());
        Assert.Contains("encoder.attention", e.Message);
        Assert.Contains("Attention", e.Message);
    }

    [Fact]
    public void TheStreamOverloadWritesTheSameBytes()
    {
        var model = new PaddedCnn(seed: 5);
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        Assert.Equal(model.ToOnnx(), stream.ToArray());
    }

    [Fact]
    public void AModelWithoutLayersIsRefused()
    {
        var model = new FakeModel(null);
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => model.ToOnnx()).ParamName);
    }

    [Fact]
    public void NullArgumentsAreNamed()
    {
        Assert.Equal("model", Assert.Throws<ArgumentNullException>(() => OnnxExport.ToOnnx(null!)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => new FlattenFirst().ExportOnnx("")).ParamName);
    }

    private static void MatchesOnnxRuntime(IModel model, int[] sampleShape, int batch, Action<IModel>? prepare = null,
        Func<Random, float>? input = null)
    {
        var random = new Random(42);
        Span<float> parameters = model.Parameters;
        foreach (TensorInfo tensor in model.Tensors)
        {
            // Uniform in ±√(3/fan-in)·1.5: activations stay in a range where every activation's curve matters.
            int fanIn = tensor.Shape.Length == 1 ? 4 : tensor.Length / tensor.Shape[0];
            float scale = 1.5f * MathF.Sqrt(3f / fanIn);
            for (int i = 0; i < tensor.Length; i++) parameters[tensor.Offset + i] = scale * (2 * random.NextSingle() - 1);
        }
        prepare?.Invoke(model);
        var inputs = new float[batch * model.InputSize];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = input is null ? 2 * random.NextSingle() - 1 : input(random);
        var expected = new float[batch * model.OutputSize];
        model.Predict(inputs, expected);

        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model.ToOnnx(), options);
        int[] dims = [batch, .. sampleShape];
        List<NamedOnnxValue> feeds = [NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(inputs, dims))];
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(feeds);
        float[] actual = results.Single(r => r.Name == "output").AsTensor<float>().ToArray();

        Assert.Equal(expected.Length, actual.Length);
        double maxError = 0, maxOutput = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxError = Math.Max(maxError, Math.Abs(expected[i] - actual[i]));
            maxOutput = Math.Max(maxOutput, Math.Abs(expected[i]));
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{model.GetType().Name}: batch {batch}, {expected.Length} outputs (max |y| {maxOutput:G3}), max |Predict − ORT| = {maxError:E2} (bar {Bar:E0})");
        Assert.True(maxError <= Bar, $"max |Predict − ORT| = {maxError:E2} > {Bar:E0}");
        Assert.True(maxOutput > 0.01, "outputs are all near zero: the comparison would prove little");
    }

    /// <summary>A hand-written model with one made-up layer (or none), to check what the exporter refuses.</summary>
    private sealed class FakeModel(LayerInfo? layer) : IModel
    {
        private readonly LayerInfo[] _layers = layer is null ? [] : [layer];
        public int InputSize => 15;
        public int OutputSize => 8;
        public int TargetSize => 1;
        public Loss Loss => Loss.MeanSquaredError;
        public Span<float> Parameters => Span<float>.Empty;
        public Span<float> Gradients => Span<float>.Empty;
        public ReadOnlySpan<TensorInfo> Tensors => ReadOnlySpan<TensorInfo>.Empty;
        public ReadOnlySpan<LayerInfo> Layers => _layers;
        public Rng Random { get; set; }
        public void Forward(ReadOnlySpan<float> inputs, Span<float> outputs, int batch) => throw new NotSupportedException();
        public float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, Span<float> outputs, int batch)
            => throw new NotSupportedException();
    }
}
