using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>5 steps of 3 features → LSTM 4 (last step) → 2 softmax (Reference/make_rnn_reference.py: <c>lstm</c>).</summary>
[Input(5, 3)]
[Lstm(4)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyLstm;

/// <summary>The same with a GRU (PyTorch's reset convention: b_hn inside r ⊙ (…)).</summary>
[Input(5, 3)]
[Gru(4)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyGru;

/// <summary>The same with an Elman RNN (tanh), named.</summary>
[Input(5, 3)]
[SimpleRnn(4, Name = "rnn")]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyRnn;

/// <summary>Stacked LSTMs: every step's hidden state of the first feeds the second.</summary>
[Input(4, 3)]
[Lstm(5, ReturnSequences = true)]
[Lstm(3)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class StackedLstm;

/// <summary>A tanh RNN returning sequences under a GRU, with a regression head.</summary>
[Input(4, 2)]
[SimpleRnn(3, ReturnSequences = true)]
[Gru(4)]
[Dense(2)]
[Loss(Loss.MeanSquaredError)]
public partial class MixedStack;

/// <summary>
/// Recurrent layers compiled by the real generator: whole-model gradients against central finite differences of the
/// model's own loss, and loss, outputs and every gradient against PyTorch's nn.RNN / nn.LSTM / nn.GRU (batch_first,
/// float64) on the same parameters taken from our arena, which also pins the checkpoint names and layouts.
/// </summary>
public class RecurrentTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static IModel Create(string name, int seed = 0) => name switch
    {
        "TinyLstm" => new TinyLstm(seed),
        "TinyGru" => new TinyGru(seed),
        "TinyRnn" => new TinyRnn(seed),
        "StackedLstm" => new StackedLstm(seed),
        "MixedStack" => new MixedStack(seed),
        "OddWideStack" => new OddWideStack(seed),
        _ => throw new ArgumentException(name, nameof(name)),
    };

    public static TheoryData<string> Models => new(["TinyLstm", "TinyGru", "TinyRnn", "StackedLstm", "MixedStack"]);

    /// <summary>With the widths that run the vector gate passes and their tails too.</summary>
    public static TheoryData<string> GradientModels => new(["TinyLstm", "TinyGru", "TinyRnn", "StackedLstm", "MixedStack", "OddWideStack"]);

    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

    private static float[] Targets(IModel model, int batch)
        => model.Loss == Loss.MeanSquaredError
            ? Random(batch * model.TargetSize, 9)
            : Enumerable.Range(0, batch).Select(i => (float)(i % 2)).ToArray();

    /// <summary>Central differences of the float loss at two steps (1e-2 and 3e-3); the closer one counts.</summary>
    [Theory]
    [MemberData(nameof(GradientModels))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        IModel model = Create(name, seed: 3);
        const int batch = 3;
        float[] x = Random(batch * model.InputSize, 4), t = Targets(model, batch);
        model.ComputeGradients(x, t, default, batch);
        float[] analytic = model.Gradients.ToArray();
        double maxError = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double error = double.MaxValue, numeric = 0;
            foreach (float h in new[] { 1e-2f, 3e-3f })
            {
                Span<float> p = model.Parameters;
                float saved = p[i];
                p[i] = saved + h;
                double plus = model.ComputeGradients(x, t, default, batch);
                p[i] = saved - h;
                double minus = model.ComputeGradients(x, t, default, batch);
                model.Parameters[i] = saved;
                double d = (plus - minus) / (2 * h);
                if (Math.Abs(d - analytic[i]) < error) (error, numeric) = (Math.Abs(d - analytic[i]), d);
            }
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-4 + 1e-2 * Math.Abs(numeric), $"{name}: parameter {i}: finite difference {numeric}, backward {analytic[i]}");
        }
        Assert.True(analytic.Any(g => g != 0), "every gradient is zero");
        Output?.WriteLine($"{name}: {analytic.Length} parameters, max |finite difference − backward| {maxError:E2}");
    }

    /// <summary>The same formula as <c>value</c> in make_rnn_reference.py.</summary>
    private static double Value(int i, int k) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    [Theory]
    [MemberData(nameof(Models))]
    public void LossOutputsAndGradientsMatchPyTorch(string name)
    {
        IModel model = Create(name);
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "rnn_reference.json");
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("models").GetProperty(name);
        int batch = reference.GetProperty("batch").GetInt32();

        // The checkpoint names and shapes are PyTorch's state_dict's.
        string[] names = reference.GetProperty("names").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(names, model.Tensors.ToArray().Select(t => t.Name).ToArray());
        JsonElement shapes = reference.GetProperty("shapes");
        foreach (TensorInfo tensor in model.Tensors)
            Assert.Equal(shapes.GetProperty(tensor.Name).EnumerateArray().Select(e => e.GetInt32()).ToArray(), tensor.Shape.ToArray());

        ReadOnlySpan<TensorInfo> tensors = model.Tensors;
        for (int k = 0; k < tensors.Length; k++)
            for (int i = 0; i < tensors[k].Length; i++)
                model.Parameters[tensors[k].Offset + i] = (float)Value(i, k);
        float[] x = Enumerable.Range(0, batch * model.InputSize).Select(i => (float)Value(i, 100)).ToArray();
        float[] t = reference.GetProperty("targets").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        var outputs = new float[batch * model.OutputSize];
        float loss = model.ComputeGradients(x, t, outputs, batch);

        double expectedLoss = reference.GetProperty("loss").GetDouble();
        double lossError = Math.Abs(loss - expectedLoss) / Math.Max(Math.Abs(expectedLoss), 1e-3);
        double outputError = MaxRelativeError(outputs, reference.GetProperty("outputs"));
        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        foreach (TensorInfo tensor in model.Tensors)
            gradientError = Math.Max(gradientError,
                MaxRelativeError(model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray(), gradients.GetProperty(tensor.Name)));
        Assert.Equal(gradients.EnumerateObject().Count(), model.Tensors.Length);
        Output?.WriteLine($"{name}: vs PyTorch 1.13 (float64): relative |Δloss| {lossError:E2}, max relative |Δoutput| {outputError:E2}, " +
            $"max relative |Δgrad| {gradientError:E2}");
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {expectedLoss}");
        Assert.True(outputError < 1e-4, $"outputs differ from PyTorch by {outputError} (relative)");
        Assert.True(gradientError < 1e-4, $"gradients differ from PyTorch by {gradientError} (relative)");
    }

    /// <summary>max |ours − theirs| / max(|theirs|, 1e-3): relative, with a floor so gradients near zero compare absolutely.</summary>
    private static double MaxRelativeError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o) / Math.Max(Math.Abs(e), 1e-3)).Max();
    }

    [Fact]
    public void CheckpointRoundTripKeepsPyTorchNamesAndPredictions()
    {
        var model = new StackedLstm(seed: 7);
        string path = Path.Combine(Path.GetTempPath(), $"stacked-lstm-{Environment.ProcessId}.safetensors");
        try
        {
            model.Save(path);
            StackedLstm again = StackedLstm.Load(path);
            Assert.Equal(["layers.0.weight_ih_l0", "layers.0.weight_hh_l0", "layers.0.bias_ih_l0", "layers.0.bias_hh_l0",
                "layers.1.weight_ih_l0", "layers.1.weight_hh_l0", "layers.1.bias_ih_l0", "layers.1.bias_hh_l0",
                "layers.2.weight", "layers.2.bias"], again.Tensors.ToArray().Select(t => t.Name).ToArray());
            Assert.Equal([20, 3], again.Tensors[0].Shape.ToArray());  // LSTM: 4·5 gate rows × 3 features
            Assert.Equal([12, 5], again.Tensors[4].Shape.ToArray());  // 4·3 × 5 (the first layer's hidden state)
            float[] x = Random(2 * StackedLstm.InputSize, 8);
            float[] a = new float[4], b = new float[4];
            model.Forward(x, a, 2);
            again.Forward(x, b, 2);
            Assert.Equal(a, b);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LstmLearnsToCountOnes()
    {
        // Label: whether a sequence of 8 bits holds more ones than zeros; the last hidden state has to count.
        const int n = 512, steps = 8;
        var rng = new Rng(11);
        var features = new float[n * steps];
        var labels = new float[n];
        for (int s = 0; s < n; s++)
        {
            int ones = 0;
            for (int t = 0; t < steps; t++)
            {
                int bit = (int)(rng.NextUInt32() & 1);
                features[s * steps + t] = bit;
                ones += bit;
            }
            labels[s] = ones * 2 > steps ? 1 : 0;
        }
        var data = new Dataset(features, labels, steps, 1);
        var model = new CountingLstm(seed: 1);
        model.Fit(data, epochs: 30, batchSize: 32, optimizer: new Adam(1e-2), seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        var (loss, accuracy) = model.Evaluate(data);
        Output?.WriteLine($"CountingLstm: loss {loss:F4}, accuracy {accuracy:P1}");
        Assert.True(accuracy > 0.9, $"accuracy {accuracy:P1}");
    }
}

/// <summary>8 bits, one per step → LSTM 8 → 2 classes (majority of ones).</summary>
[Input(8, 1)]
[Lstm(8)]
[Dense(2, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CountingLstm;

/// <summary>Char-RNN-sized: 16 steps of 32 features → LSTM 64 → 10 classes.</summary>
[Input(16, 32)]
[Lstm(64)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class WideLstm;

/// <summary>Widths of 21 and 19 units: full AVX-512 and AVX2 vectors in the gate passes, and single-float tails.</summary>
[Input(3, 5)]
[Gru(21, ReturnSequences = true)]
[SimpleRnn(19, ReturnSequences = true)]
[Lstm(19)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class OddWideStack;

/// <summary>
/// A recurrent model at a size where the gate passes split across both cores: the split changes no bit, and a warm
/// training step allocates nothing on either thread.
/// </summary>
[Collection(nameof(AllocationCounting))]
public class RecurrentWorkerTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void EveryInstructionSetGivesTheSameModel()
    {
        const int batch = 3;
        var model = new OddWideStack(seed: 5);
        float[] x = Random(batch * OddWideStack.InputSize, 6);
        float[] t = [0, 2, 1];
        var results = new List<(string Isa, float Loss, float[] Gradients)>();
        Compiled.CompilerServices.KernelIsa saved = Compiled.CompilerServices.Gemm.Isa;
        try
        {
            foreach (var isa in new[] { Compiled.CompilerServices.KernelIsa.Vector512, Compiled.CompilerServices.KernelIsa.Vector256,
                         Compiled.CompilerServices.KernelIsa.Scalar })
            {
                if (isa > Compiled.CompilerServices.Gemm.DetectIsa()) continue;
                Compiled.CompilerServices.Gemm.Isa = isa;
                float loss = model.ComputeGradients(x, t, default, batch);
                results.Add((isa.ToString(), loss, model.Gradients.ToArray()));
            }
        }
        finally { Compiled.CompilerServices.Gemm.Isa = saved; }
        Assert.True(results.Count >= 2, "this machine runs only the scalar kernels");
        var scalar = results[^1];
        foreach (var (isa, loss, gradients) in results)
        {
            double error = gradients.Zip(scalar.Gradients, (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(b), 1e-3)).Max();
            Output?.WriteLine($"OddWideStack, {isa} vs scalar: |Δloss| {Math.Abs(loss - scalar.Loss):E2}, max relative |Δgrad| {error:E2}");
            Assert.True(Math.Abs(loss - scalar.Loss) < 1e-5, $"{isa}: loss {loss} vs scalar {scalar.Loss}");
            Assert.True(error < 1e-3, $"{isa}: gradients differ from the scalar kernels' by {error} (relative)");
        }
    }

    [Fact]
    public void BothCoresGiveTheSameBitsAndAWarmStepAllocatesNothing()
    {
        const int batch = 64; // 64 samples × 4·64 gate rows = 16,384 ≥ Recurrent.ParallelMinWork
        Assert.True(batch * 4 * 64 >= Compiled.CompilerServices.Recurrent.ParallelMinWork);
        var model = new WideLstm(seed: 1);
        float[] x = Random(batch * WideLstm.InputSize, 2);
        float[] t = Enumerable.Range(0, batch).Select(i => (float)(i % 10)).ToArray();
        var outputs = new float[batch * 10];

        float lossBoth = model.ComputeGradients(x, t, outputs, batch);
        float[] gradientsBoth = model.Gradients.ToArray();
        Compiled.CompilerServices.Worker.Disabled = true;
        float lossOne;
        try { lossOne = model.ComputeGradients(x, t, outputs, batch); }
        finally { Compiled.CompilerServices.Worker.Disabled = false; }
        Assert.Equal(lossOne, lossBoth);
        Assert.Equal(model.Gradients.ToArray(), gradientsBoth);

        var optimizer = new Adam(1e-3);
        for (int i = 0; i < 30; i++) // warm-up: optimizer state, JIT tiers, the worker thread
        {
            model.ComputeGradients(x, t, default, batch);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        var watch = new System.Diagnostics.Stopwatch();
        long before = GC.GetAllocatedBytesForCurrentThread() + Compiled.CompilerServices.Worker.WorkerAllocatedBytes;
        watch.Start();
        const int steps = 50;
        for (int i = 0; i < steps; i++)
        {
            model.ComputeGradients(x, t, default, batch);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        watch.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() + Compiled.CompilerServices.Worker.WorkerAllocatedBytes - before;
        Output?.WriteLine($"WideLstm (16 steps × 32 → LSTM 64 → 10), batch {batch}: {watch.Elapsed.TotalMilliseconds * 1000 / steps:F0} µs per " +
            $"training step (Adam included; {Configuration} build; rough: a shared, busy machine), {allocated} bytes allocated over {steps} steps");
        Assert.Equal(0, allocated);
    }
}
