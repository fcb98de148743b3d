using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>BatchNorm2d after a conv (ReLU on the BatchNorm), BatchNorm1d after Flatten (<c>cnn</c> in make_bn_reference.py).</summary>
[Input(6, 6, 2)]
[Conv2D(4, 3)]
[BatchNorm(Activation.Relu)]
[MaxPool2D(2)]
[Flatten]
[BatchNorm]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class BnCnnReference;

/// <summary>BatchNorm1d after a Dense, with GELU (kept pre-activation), PyTorch momentum 0.2 and eps 1e-3 (<c>mlp</c>).</summary>
[Input(5)]
[Dense(6)]
[BatchNorm(Activation.Gelu, Momentum = 0.2, Eps = 1e-3)]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class BnMlpReference;

/// <summary>A BatchNorm ending a binary classifier: its sigmoid is fused into the loss while training.</summary>
[Input(4)]
[Dense(3)]
[BatchNorm(Activation = Activation.Sigmoid)]
[Loss(Loss.BinaryCrossEntropy)]
public partial class BnSigmoidHead;

/// <summary>
/// <c>[BatchNorm]</c> against PyTorch's <c>F.batch_norm</c> (float64, NCHW; Reference/bn_reference.json from
/// make_bn_reference.py): loss, outputs and every gradient in training mode, the running statistics and
/// num_batches_tracked after two steps, and predictions with the running statistics; finite differences of the training
/// loss; checkpoints that carry the buffers (num_batches_tracked as I64).
/// </summary>
public class BatchNormTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    /// <summary>The same formula as <c>value</c> in make_bn_reference.py.</summary>
    private static double Value(int i, int k) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    public static TheoryData<string> Models => new(["BnCnnReference", "BnMlpReference"]);

    private static IModel Create(string name) => name == "BnCnnReference" ? new BnCnnReference() : new BnMlpReference();

    private static void SetReferenceParameters(IModel model)
    {
        ReadOnlySpan<TensorInfo> tensors = model.Tensors;
        for (int k = 0; k < tensors.Length; k++)
            for (int i = 0; i < tensors[k].Length; i++)
                model.Parameters[tensors[k].Offset + i] = (float)Value(i, k);
    }

    private static float[] Inputs(IModel model, int batch, int k)
        => Enumerable.Range(0, batch * model.InputSize).Select(i => (float)Value(i, k)).ToArray();

    [Theory]
    [MemberData(nameof(Models))]
    public void TrainingStepRunningStatisticsAndPredictionsMatchPyTorch(string name)
    {
        IModel model = Create(name);
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "bn_reference.json");
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("models").GetProperty(name);
        int batch = reference.GetProperty("batch").GetInt32();
        SetReferenceParameters(model);
        float[] x1 = Inputs(model, batch, 100), x2 = Inputs(model, batch, 200);
        float[] t = reference.GetProperty("targets").EnumerateArray().Select(e => (float)e.GetInt32()).ToArray();
        var outputs = new float[batch * model.OutputSize];

        float loss = model.ComputeGradients(x1, t, outputs, batch);
        double lossError = Math.Abs(loss - reference.GetProperty("loss").GetDouble());
        double outputError = MaxError(outputs, reference.GetProperty("outputs"));
        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        foreach (TensorInfo tensor in model.Tensors)
            gradientError = Math.Max(gradientError,
                MaxError(model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray(), gradients.GetProperty(tensor.Name)));
        Assert.Equal(gradients.EnumerateObject().Count(), model.Tensors.Length);

        // A second step on other inputs (same parameters), then the buffers as PyTorch has them.
        model.ComputeGradients(x2, t, default, batch);
        JsonElement buffers = reference.GetProperty("buffers");
        Assert.Equal(buffers.EnumerateObject().Count(), model.BufferTensors.Length);
        double bufferError = 0;
        foreach (TensorInfo tensor in model.BufferTensors)
        {
            if (tensor.DataType == TensorDataType.Int64)
            {
                Assert.EndsWith(".num_batches_tracked", tensor.Name);
                Assert.Empty(tensor.Shape);
                long count = System.Runtime.InteropServices.MemoryMarshal.Cast<float, long>(model.Buffers.Slice(tensor.Offset, 2))[0];
                Assert.Equal(buffers.GetProperty(tensor.Name)[0].GetInt64(), count);
                continue;
            }
            bufferError = Math.Max(bufferError,
                MaxError(model.Buffers.Slice(tensor.Offset, tensor.Length).ToArray(), buffers.GetProperty(tensor.Name)));
        }

        // Predictions use the running statistics.
        var predicted = new float[batch * model.OutputSize];
        model.Forward(x1, predicted, batch);
        double evalError = MaxError(predicted, reference.GetProperty("eval_outputs"));
        double trainVsEval = outputs.Zip(predicted, (a, b) => (double)Math.Abs(a - b)).Max();

        Output?.WriteLine($"{name}: vs PyTorch 1.13 (float64): |Δloss| {lossError:E2}, max |Δoutput| {outputError:E2}, " +
            $"max |Δgrad| {gradientError:E2}, max |Δrunning stat| after 2 steps {bufferError:E2}, max |Δeval output| {evalError:E2} " +
            $"(eval differs from training outputs by {trainVsEval:E2})");
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {reference.GetProperty("loss").GetDouble()}");
        Assert.True(outputError < 1e-5, $"outputs differ from PyTorch by {outputError}");
        Assert.True(gradientError < 2e-5, $"gradients differ from PyTorch by {gradientError}");
        Assert.True(bufferError < 1e-5, $"running statistics differ from PyTorch by {bufferError}");
        Assert.True(evalError < 1e-5, $"eval-mode outputs differ from PyTorch by {evalError}");
        Assert.True(trainVsEval > 1e-3, "predictions should use the running statistics, not the batch's");
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Rng(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = 2 * rng.NextFloat() - 1;
        return a;
    }

    [Fact]
    public void CnnGradientsMatchFiniteDifferencesInTrainingMode()
    {
        var model = new BnCnnReference(seed: 4);
        Random(model.Parameters.Length, 9).CopyTo(model.Parameters); // γ away from 1, β away from 0
        CnnTests.CheckGradients(model, Random(5 * 72, 7), [0, 2, 1, 2, 1], 5, "BnCnnReference");
    }

    [Fact]
    public void MlpGradientsMatchFiniteDifferencesInTrainingMode()
    {
        var model = new BnMlpReference(seed: 5);
        Random(model.Parameters.Length, 10).CopyTo(model.Parameters);
        CnnTests.CheckGradients(model, Random(6 * 5, 8), [0, 2, 1, 2, 1, 0], 6, "BnMlpReference");
    }

    [Fact]
    public void SigmoidHeadFusedIntoTheLossMatchesFiniteDifferences()
    {
        var model = new BnSigmoidHead(seed: 6);
        Random(model.Parameters.Length, 11).CopyTo(model.Parameters);
        CnnTests.CheckGradients(model, Random(5 * 4, 12), [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1], 5, "BnSigmoidHead");
        var outputs = new float[5 * 3];
        model.Forward(Random(5 * 4, 12), outputs, 5);
        Assert.All(outputs, v => Assert.InRange(v, 0f, 1f)); // the sigmoid is applied when predicting
    }

    [Fact]
    public void InitialisesAsPyTorchAndKeepsBuffersOutOfTheParameterArena()
    {
        var model = new BnCnnReference(seed: 1);
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.4.weight", "layers.4.bias",
            "layers.5.weight", "layers.5.bias"], model.Tensors.ToArray().Select(t => t.Name));
        Assert.Equal(["layers.1.running_mean", "layers.1.running_var", "layers.1.num_batches_tracked",
            "layers.4.running_mean", "layers.4.running_var", "layers.4.num_batches_tracked"], model.BufferTensors.ToArray().Select(t => t.Name));
        Assert.Equal(BnCnnReference.ParameterCount, model.Parameters.Length);
        TensorInfo gamma = model.Tensors[2], beta = model.Tensors[3];
        Assert.All(model.Parameters.Slice(gamma.Offset, gamma.Length).ToArray(), v => Assert.Equal(1f, v));
        Assert.All(model.Parameters.Slice(beta.Offset, beta.Length).ToArray(), v => Assert.Equal(0f, v));
        TensorInfo mean = model.BufferTensors[0], variance = model.BufferTensors[1];
        Assert.All(model.Buffers.Slice(mean.Offset, mean.Length).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(model.Buffers.Slice(variance.Offset, variance.Length).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void FitUpdatesRunningStatisticsAndCheckpointsCarryThemWithAnInt64Counter()
    {
        var model = new BnCnnReference(seed: 2);
        var rng = new Rng(3);
        float[] x = Random(64 * BnCnnReference.InputSize, 13);
        float[] y = Enumerable.Range(0, 64).Select(_ => (float)rng.NextInt(3)).ToArray();
        var data = new Dataset(x, y, BnCnnReference.InputSize, 1);
        model.Fit(data, epochs: 2, batchSize: 16, optimizer: new Sgd(0.1), seed: 1, cancellationToken: TestContext.Current.CancellationToken);
        long Count(IModel m) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, long>(m.Buffers.Slice(m.BufferTensors[2].Offset, 2))[0];
        Assert.Equal(8, Count(model)); // 2 epochs × 4 batches
        TensorInfo mean = model.BufferTensors[0];
        Assert.Contains(model.Buffers.Slice(mean.Offset, mean.Length).ToArray(), v => v != 0f);

        string path = Path.Combine(Path.GetTempPath(), $"bn-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using (FileStream file = File.OpenRead(path))
            {
                SafetensorsHeader header = SafetensorsHeader.Read(file, path);
                SafetensorsEntry counter = header.Entries.Single(e => e.Name == "layers.1.num_batches_tracked");
                Assert.Equal("I64", counter.DType);
                Assert.Empty(counter.Shape);
                Assert.Equal("F32", header.Entries.Single(e => e.Name == "layers.1.running_var").DType);
                Assert.Equal(8 + 6, header.Entries.Count); // 8 parameters, 6 buffers
            }
            var all = Checkpoint.ReadAll(path, out _);
            Assert.Equal(8f, all["layers.4.num_batches_tracked"].Data.Single());

            BnCnnReference loaded = BnCnnReference.Load(path);
            Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());
            Assert.Equal(model.Buffers.ToArray(), loaded.Buffers.ToArray());
            var a = new float[16 * BnCnnReference.OutputSize];
            var b = new float[16 * BnCnnReference.OutputSize];
            model.Forward(x.AsSpan(0, 16 * BnCnnReference.InputSize), a, 16);
            loaded.Forward(x.AsSpan(0, 16 * BnCnnReference.InputSize), b, 16);
            Assert.Equal(a, b);

            // A checkpoint without the buffers (a model saved before BatchNorm) does not fit: loading is strict.
            var plain = new BnMlpReference(seed: 1);
            Assert.Throws<InvalidDataException>(() => plain.LoadWeights(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestEpochsRunningStatisticsWithItsWeights()
    {
        var rng = new Rng(4);
        float[] x = Random(48 * BnCnnReference.InputSize, 14);
        float[] y = Enumerable.Range(0, 48).Select(_ => (float)rng.NextInt(3)).ToArray();
        var data = new Dataset(x, y, BnCnnReference.InputSize, 1);
        CancellationToken token = TestContext.Current.CancellationToken;

        var once = new BnCnnReference(seed: 2);
        once.Fit(data, epochs: 1, batchSize: 16, optimizer: new Sgd(0.1), seed: 1, cancellationToken: token);
        // minDelta so large that only the first epoch counts as an improvement: the best epoch is 1, restored after 3.
        var stopped = new BnCnnReference(seed: 2);
        History history = stopped.Fit(data, epochs: 3, batchSize: 16, optimizer: new Sgd(0.1), seed: 1,
            earlyStopping: new EarlyStopping(Metric.Loss, patience: 5, minDelta: 1e9), cancellationToken: token);
        Assert.Equal(1, history.BestEpoch);
        Assert.True(history.RestoredBestWeights);
        Assert.Equal(once.Parameters.ToArray(), stopped.Parameters.ToArray());
        Assert.Equal(once.Buffers.ToArray(), stopped.Buffers.ToArray()); // running statistics and num_batches_tracked = 3
    }

    private static double MaxError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o)).Max();
    }
}
