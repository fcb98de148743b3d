using Compiled.CompilerServices;

namespace Compiled.Integration.Tests;

/// <summary>Odd sizes for the prepacked path: 45 columns (a full panel and a 13-wide edge), 33 (one column past a
/// panel), K = 50 (one K block, not a multiple of 16).</summary>
[Input(50)]
[Dense(45, Activation.Relu)]
[Dense(33, Activation.Tanh)]
[Dense(10, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class PackedEdgeMlp;

/// <summary>
/// The generated <c>Forward</c> reads each dense layer's <c>wᵀ</c> packed once (<see cref="PackedWeights"/>): its outputs
/// must be those of the per-call packing, bit for bit, on every instruction set and core count; and every way weights
/// change (a write through <c>Parameters</c>, a checkpoint load, an optimizer step, <c>Fit</c>, <c>Initialize</c>) must be
/// seen by the next prediction. Each of those tests predicts once before the change, so a cache that was not marked stale
/// would answer with the old weights.
/// </summary>
[Collection(nameof(AllocationCounting))]
public class PackedWeightsTests
{
    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static float[] Inputs(int batch, int features, int seed)
    {
        var rng = new Rng(seed);
        var x = new float[batch * features];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat();
        return x;
    }

    /// <summary>The forward pass as the generated code ran it before the cache: each Dense layer through the kernel
    /// that packs wᵀ per call, then the softmax. Layers are read from the model's own description.</summary>
    private static float[] Uncached(IModel model, float[] x, int batch)
    {
        ReadOnlySpan<float> p = model.Parameters;
        float[] current = x;
        int features = model.InputSize;
        foreach (LayerInfo layer in model.Layers)
        {
            Assert.Equal("Dense", layer.Kind);
            int units = layer.Units;
            TensorInfo w = Find(model, layer.Name + ".weight"), b = Find(model, layer.Name + ".bias");
            var y = new float[batch * units];
            ReadOnlySpan<float> wv = p.Slice(w.Offset, w.Length), bv = p.Slice(b.Offset, b.Length);
            switch (layer.Activation)
            {
                case Activation.Relu: Dense.Forward<Relu>(y, default, current, wv, bv, batch, features, units); break;
                case Activation.Tanh: Dense.Forward<Tanh>(y, default, current, wv, bv, batch, features, units); break;
                case Activation.Softmax:
                    var z = new float[batch * units];
                    Dense.Forward<Identity>(z, default, current, wv, bv, batch, features, units);
                    Activations.Softmax(y, z, batch, units);
                    break;
                default: throw new InvalidOperationException($"activation {layer.Activation} not in this test");
            }
            current = y;
            features = units;
        }
        return current;
    }

    private static TensorInfo Find(IModel model, string name)
    {
        foreach (TensorInfo t in model.Tensors)
            if (t.Name == name) return t;
        throw new InvalidOperationException(name);
    }

    /// <summary>The MLP's first layer in doubles, for the printed error of the packed product.</summary>
    private static double MaxErrorOfFirstLayer(IModel model, float[] x, int batch, float[] hidden)
    {
        ReadOnlySpan<float> p = model.Parameters;
        LayerInfo layer = model.Layers[0];
        TensorInfo w = Find(model, layer.Name + ".weight"), b = Find(model, layer.Name + ".bias");
        int inputs = model.InputSize, units = layer.Units;
        double worst = 0;
        for (int r = 0; r < batch; r++)
            for (int u = 0; u < units; u++)
            {
                double z = p[b.Offset + u];
                for (int k = 0; k < inputs; k++) z += (double)x[r * inputs + k] * p[w.Offset + u * inputs + k];
                worst = Math.Max(worst, Math.Abs(Math.Max(z, 0) - hidden[r * units + u]));
            }
        return worst;
    }

    private static float[] Predict(IModel model, float[] x, int batch)
    {
        var y = new float[batch * model.OutputSize];
        model.Forward(x, y, batch);
        return y;
    }

    public static TheoryData<string, int, bool> Cases()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (string isa in new[] { "avx512", "avx2" })
            foreach (int batch in new[] { 5, 37, 64, 130, 300 })
                foreach (bool two in new[] { false, true })
                    data.Add(isa, batch, two);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PredictionsEqualThePerCallPackingBitForBit(string isa, int batch, bool twoCores)
    {
        KernelIsa saved = Gemm.Isa;
        bool savedWorker = Worker.Disabled;
        Gemm.Isa = Gemm.Limit(Gemm.DetectIsa(), isa); // a CPU without it checks its own best twice
        Worker.Disabled = !twoCores;
        try
        {
            foreach (IModel model in new IModel[] { new MnistMlp(seed: 5), new PackedEdgeMlp(seed: 6) })
            {
                float[] x = Inputs(batch, model.InputSize, seed: batch);
                float[] expected = Uncached(model, x, batch);
                float[] first = Predict(model, x, batch);  // packs
                float[] second = Predict(model, x, batch); // reads the packed panels
                Assert.True(expected.AsSpan().SequenceEqual(first), $"{model.GetType().Name}: the packing call differs");
                Assert.True(expected.AsSpan().SequenceEqual(second), $"{model.GetType().Name}: the cached call differs");
            }

            // The packed product against doubles (the first layer, before the softmax hides it).
            var mlp = new MnistMlp(seed: 5);
            float[] xs = Inputs(batch, 784, seed: batch);
            var hidden = new float[batch * 128];
            ReadOnlySpan<float> p = mlp.Parameters;
            var packed = new PackedWeights(1);
            for (int i = 0; i < 2; i++)
                Dense.Forward<Relu>(hidden, default, xs, p.Slice(0, 100352), p.Slice(100352, 128), batch, 784, 128, packed, 0);
            double error = MaxErrorOfFirstLayer(mlp, xs, batch, hidden);
            Output?.WriteLine($"{Gemm.Name(Gemm.Isa)}, batch {batch}, {(twoCores ? "two cores" : "one core")}: bits equal; first layer max |error| vs doubles {error:E2}");
            Assert.True(error < 1e-4, $"max error {error}");
            Assert.True(packed.Bytes > 0, "the cache was never filled");
        }
        finally
        {
            Gemm.Isa = saved;
            Worker.Disabled = savedWorker;
        }
    }

    [Fact]
    public void AWriteThroughParametersIsSeenByTheNextPrediction()
    {
        var model = new MnistMlp(seed: 1);
        float[] x = Inputs(64, 784, seed: 2);
        float[] before = Predict(model, x, 64);
        Span<float> w = model.Parameters.Slice(0, 100352); // the first layer's weights
        for (int i = 0; i < w.Length; i++) w[i] = -w[i];
        float[] after = Predict(model, x, 64);
        Assert.False(before.AsSpan().SequenceEqual(after), "the write changed nothing: the test cannot tell");
        Assert.True(Uncached(model, x, 64).AsSpan().SequenceEqual(after), "the prediction used the weights before the write");
    }

    [Fact]
    public void ALoadIsSeenByTheNextPrediction()
    {
        string path = Path.Combine(Path.GetTempPath(), $"packed-{Guid.NewGuid():N}.safetensors");
        try
        {
            var other = new MnistMlp(seed: 8);
            other.Save(path);
            var model = new MnistMlp(seed: 1);
            float[] x = Inputs(64, 784, seed: 3);
            float[] before = Predict(model, x, 64);
            Checkpoint.Load(model, path);
            float[] after = Predict(model, x, 64);
            Assert.False(before.AsSpan().SequenceEqual(after), "the two models predict alike: the test cannot tell");
            Assert.True(Predict(other, x, 64).AsSpan().SequenceEqual(after), "the prediction used the weights before the load");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AnOptimizerStepIsSeenByTheNextPrediction()
    {
        var model = new MnistMlp(seed: 1);
        float[] x = Inputs(64, 784, seed: 4);
        float[] t = Enumerable.Range(0, 64).Select(i => (float)(i % 10)).ToArray();
        float[] before = Predict(model, x, 64);
        model.ComputeGradients(x, t, default, 64);
        new Sgd(0.5).Step(model.Parameters, model.Gradients);
        float[] after = Predict(model, x, 64);
        Assert.False(before.AsSpan().SequenceEqual(after), "the step changed nothing: the test cannot tell");
        Assert.True(Uncached(model, x, 64).AsSpan().SequenceEqual(after), "the prediction used the weights before the step");
    }

    [Fact]
    public void FitIsSeenByThePredictionsAfterIt()
    {
        var model = new MnistMlp(seed: 1);
        float[] x = Inputs(128, 784, seed: 5);
        float[] t = Enumerable.Range(0, 128).Select(i => (float)(i % 10)).ToArray();
        var data = new Dataset(x, t, 784, 1);
        float[] before = Predict(model, x, 64);
        // Validation predicts after every epoch (filling the cache), then the next epoch's steps change the weights.
        model.Fit(data, epochs: 3, batchSize: 64, optimizer: new Adam(1e-3), validation: data,
            cancellationToken: TestContext.Current.CancellationToken);
        float[] after = Predict(model, x, 64);
        Assert.False(before.AsSpan().SequenceEqual(after), "Fit changed nothing: the test cannot tell");
        Assert.True(Uncached(model, x, 64).AsSpan().SequenceEqual(after), "the prediction used weights from before the last epoch");
    }

    [Fact]
    public void InitializeIsSeenByTheNextPrediction()
    {
        var model = new MnistMlp(seed: 1);
        float[] x = Inputs(64, 784, seed: 6);
        float[] before = Predict(model, x, 64);
        model.Initialize(9);
        float[] after = Predict(model, x, 64);
        Assert.False(before.AsSpan().SequenceEqual(after), "the seeds give alike models: the test cannot tell");
        Assert.True(Predict(new MnistMlp(seed: 9), x, 64).AsSpan().SequenceEqual(after), "the prediction used the weights before Initialize");
    }

    [Fact]
    public void ThreadsPredictingWhileTheCacheFillsAllGetTheSameBits()
    {
        var model = new MnistMlp(seed: 2);
        float[] x = Inputs(64, 784, seed: 8);
        float[] expected = Uncached(model, x, 64);
        int mismatches = 0;
        for (int round = 0; round < 5; round++)
        {
            model.Parameters[0] += 0f; // a get: every round starts with a stale cache that one of the threads repacks
            var threads = new Thread[4];
            for (int t = 0; t < threads.Length; t++)
            {
                threads[t] = new Thread(() =>
                {
                    var y = new float[64 * 10];
                    for (int i = 0; i < 20; i++)
                    {
                        model.Forward(x, y, 64);
                        if (!expected.AsSpan().SequenceEqual(y)) Interlocked.Increment(ref mismatches);
                    }
                });
                threads[t].Start();
            }
            foreach (Thread thread in threads) thread.Join();
        }
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void BatchPredictionAllocatesNothingAfterTheFirst()
    {
        var model = new MnistMlp(seed: 1);
        float[] x = Inputs(64, 784, seed: 7);
        var y = new float[64 * 10];
        for (int i = 0; i < 3; i++) model.Forward(x, y, 64); // packs, grows the workspace, warms the JIT and the worker
        long before = GC.GetAllocatedBytesForCurrentThread() + Worker.WorkerAllocatedBytes;
        for (int i = 0; i < 200; i++) model.Forward(x, y, 64);
        long allocated = GC.GetAllocatedBytesForCurrentThread() + Worker.WorkerAllocatedBytes - before;
        Output?.WriteLine($"allocated: {allocated} bytes over 200 predictions of 64");
        Assert.Equal(0, allocated);
    }
}
