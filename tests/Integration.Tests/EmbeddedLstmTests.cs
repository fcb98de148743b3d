using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>6 token ids (vocabulary 7) → embedding 4 → LSTM 5 over every step → 7 softmax at every step: the CPU step
/// computes the LSTM's input projection per token when the batch has more rows (batch·6) than the 7 tokens.</summary>
[Input(6)]
[Embedding(7, 4)]
[Lstm(5, ReturnSequences = true)]
[Dense(7, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class EmbeddedLstm;

/// <summary>
/// An embedding feeding an LSTM, compiled by the real generator: loss, outputs and every gradient against PyTorch
/// (float64, Reference/make_embedded_lstm_reference.py) and against central finite differences, at batch 3 (18 rows:
/// the per-token projection and its backward) and batch 1 (6 rows, fewer than the tokens: the per-row products).
/// </summary>
public class EmbeddedLstmTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    /// <summary>The same formulas as <c>value</c> and <c>token</c> in make_embedded_lstm_reference.py.</summary>
    private static double Value(int i, int k) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    private static float Token(int i) => (5 * i + i / 3) % 7;

    private static EmbeddedLstm ReferenceModel()
    {
        var model = new EmbeddedLstm(seed: 0);
        ReadOnlySpan<TensorInfo> tensors = model.Tensors;
        for (int k = 0; k < tensors.Length; k++)
            for (int i = 0; i < tensors[k].Length; i++)
                model.Parameters[tensors[k].Offset + i] = (float)Value(i, k);
        return model;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void LossOutputsAndGradientsMatchPyTorch(int batch)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "embedded_lstm_reference.json");
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("batches").GetProperty($"{batch}");
        EmbeddedLstm model = ReferenceModel();
        string[] names = reference.GetProperty("names").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(names, model.Tensors.ToArray().Select(t => t.Name).ToArray());
        float[] x = reference.GetProperty("ids").EnumerateArray().Select(e => (float)e.GetInt32()).ToArray();
        Assert.Equal(Enumerable.Range(0, batch * 6).Select(Token).ToArray(), x);
        float[] t = reference.GetProperty("targets").EnumerateArray().Select(e => (float)e.GetInt32()).ToArray();
        var outputs = new float[batch * EmbeddedLstm.OutputSize];
        float loss = model.ComputeGradients(x, t, outputs, batch);

        double expectedLoss = reference.GetProperty("loss").GetDouble();
        double lossError = Math.Abs(loss - expectedLoss) / Math.Max(Math.Abs(expectedLoss), 1e-3);
        double outputError = MaxRelativeError(outputs, reference.GetProperty("outputs"));
        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        foreach (TensorInfo tensor in model.Tensors)
            gradientError = Math.Max(gradientError,
                MaxRelativeError(model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray(), gradients.GetProperty(tensor.Name)));
        Output?.WriteLine($"EmbeddedLstm, batch {batch} ({(batch * 6 > 7 ? "per token" : "per row")}): vs PyTorch 1.13 (float64): " +
            $"relative |Δloss| {lossError:E2}, max relative |Δoutput| {outputError:E2}, max relative |Δgrad| {gradientError:E2}");
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {expectedLoss}");
        Assert.True(outputError < 1e-4, $"outputs differ from PyTorch by {outputError} (relative)");
        Assert.True(gradientError < 1e-4, $"gradients differ from PyTorch by {gradientError} (relative)");

        // Prediction takes the same path: the same probabilities.
        var predicted = new float[outputs.Length];
        model.Forward(x, predicted, batch);
        double predictionError = outputs.Zip(predicted, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(predictionError < 1e-6, $"Forward differs from ComputeGradients' outputs by {predictionError}");
    }

    /// <summary>Central differences of the float loss at two steps (1e-2 and 3e-3); the closer one counts.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void GradientsMatchFiniteDifferences(int batch)
    {
        var model = new EmbeddedLstm(seed: 3);
        float[] x = Enumerable.Range(0, batch * 6).Select(Token).ToArray();
        float[] t = Enumerable.Range(0, batch * 6).Select(i => (float)((3 * i + 1) % 7)).ToArray();
        model.ComputeGradients(x, t, default, batch);
        float[] analytic = model.Gradients.ToArray();
        double maxError = 0;
        for (int i = 0; i < analytic.Length; i++)
        {
            double error = double.MaxValue, numeric = 0;
            foreach (float h in new[] { 1e-2f, 3e-3f })
            {
                float saved = model.Parameters[i];
                model.Parameters[i] = saved + h;
                double plus = model.ComputeGradients(x, t, default, batch);
                model.Parameters[i] = saved - h;
                double minus = model.ComputeGradients(x, t, default, batch);
                model.Parameters[i] = saved;
                double d = (plus - minus) / (2 * h);
                if (Math.Abs(d - analytic[i]) < error) (error, numeric) = (Math.Abs(d - analytic[i]), d);
            }
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-4 + 1e-2 * Math.Abs(numeric), $"batch {batch}: parameter {i}: finite difference {numeric}, backward {analytic[i]}");
        }
        // The embedding's rows of tokens that occur get a gradient (the per-token backward writes them).
        Assert.True(analytic.AsSpan(0, 7 * 4).ToArray().Any(g => g != 0), "every embedding gradient is zero");
        Output?.WriteLine($"EmbeddedLstm, batch {batch}: {analytic.Length} parameters, max |finite difference − backward| {maxError:E2}");
    }

    /// <summary>max |ours − theirs| / max(|theirs|, 1e-3).</summary>
    private static double MaxRelativeError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o) / Math.Max(Math.Abs(e), 1e-3)).Max();
    }
}

/// <summary>The per-token projection, the LSTM and the loss at a batch where each splits across both cores: the split
/// changes no bit, and a warm training step allocates nothing on either thread.</summary>
[Collection(nameof(AllocationCounting))]
public class EmbeddedLstmWorkerTests
{
    [Fact]
    public void BothCoresGiveTheSameBitsAndAWarmStepAllocatesNothing()
    {
        // 1024 samples: 1024 × 4·5 gate rows ≥ Recurrent.ParallelMinWork; 6144 rows × 20 ≥ EmbeddedProjection.ParallelMinWork.
        const int batch = 1024;
        Assert.True(batch * 20 >= Compiled.CompilerServices.Recurrent.ParallelMinWork);
        Assert.True(batch * 6 * 20 >= Compiled.CompilerServices.EmbeddedProjection.ParallelMinWork);
        var model = new EmbeddedLstm(seed: 4);
        var rng = new Rng(5);
        float[] x = Enumerable.Range(0, batch * 6).Select(_ => (float)(rng.NextUInt32() % 7)).ToArray();
        float[] t = Enumerable.Range(0, batch * 6).Select(_ => (float)(rng.NextUInt32() % 7)).ToArray();

        float lossBoth = model.ComputeGradients(x, t, default, batch);
        float[] gradientsBoth = model.Gradients.ToArray();
        Compiled.CompilerServices.Worker.Disabled = true;
        float lossOne;
        try { lossOne = model.ComputeGradients(x, t, default, batch); }
        finally { Compiled.CompilerServices.Worker.Disabled = false; }
        Assert.Equal(lossOne, lossBoth);
        Assert.Equal(model.Gradients.ToArray(), gradientsBoth);

        var optimizer = new Adam(1e-3);
        for (int i = 0; i < 30; i++) // warm-up: optimizer state, JIT tiers, the worker thread, the per-token scratch
        {
            model.ComputeGradients(x, t, default, batch);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        long before = GC.GetAllocatedBytesForCurrentThread() + Compiled.CompilerServices.Worker.WorkerAllocatedBytes;
        for (int i = 0; i < 20; i++)
        {
            model.ComputeGradients(x, t, default, batch);
            optimizer.Step(model.Parameters, model.Gradients);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() + Compiled.CompilerServices.Worker.WorkerAllocatedBytes - before;
        TestContext.Current.TestOutputHelper?.WriteLine($"EmbeddedLstm, batch {batch}: {allocated} bytes allocated over 20 steps");
        Assert.Equal(0, allocated);
    }
}
