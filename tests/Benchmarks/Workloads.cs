using System.Diagnostics;

namespace Compiled.Benchmarks;

/// <summary>
/// One benchmarked operation. <see cref="Run"/> performs it <c>iterations</c> times back to back and returns
/// the elapsed Stopwatch ticks; the peer (peer.py) runs the workload of the same <see cref="Name"/>.
/// </summary>
internal sealed record Workload(string Name, string Description, Func<int, long> Run, Func<float> LastLoss);

internal static class Workloads
{
    public static IReadOnlyList<Workload> All { get; } =
    [
        Train("mlp-784-128-10-b64", "training step, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), 64),
        Infer("mlp-784-128-10-b1-infer", "one-sample prediction, 784-128-10 MLP", new Mlp784x128(seed: 1)),
        Train("mlp-784-1024-1024-10-b1024", "training step, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), 1024),
    ];

    /// <summary>
    /// A full training step on a fixed random batch: forward, fused softmax cross-entropy, backward, Adam(1e-3).
    /// The same batch every step, like peer.py; labels are i % 10.
    /// </summary>
    private static Workload Train(string name, string description, IModel model, int batch)
    {
        (float[] x, float[] y) = RandomBatch(batch, model.InputSize, model.OutputSize, seed: 7);
        var optimizer = new Adam(1e-3);
        float loss = float.NaN;
        long Run(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++)
            {
                loss = model.ComputeGradients(x, y, default, batch);
                optimizer.Step(model.Parameters, model.Gradients);
            }
            return Stopwatch.GetTimestamp() - start;
        }
        return new Workload(name, description, Run, () => loss);
    }

    /// <summary>One sample through <see cref="IModel.Forward"/> (softmax included), batch 1.</summary>
    private static Workload Infer(string name, string description, IModel model)
    {
        (float[] x, _) = RandomBatch(1, model.InputSize, model.OutputSize, seed: 7);
        var output = new float[model.OutputSize];
        long Run(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) model.Forward(x, output, 1);
            return Stopwatch.GetTimestamp() - start;
        }
        // Not a loss, but a check that the prediction is a probability distribution (sums to 1).
        return new Workload(name, description, Run, () => output.Sum());
    }

    /// <summary>MNIST-shaped data: pixels uniform in [0, 1), label of sample i is i % classes.</summary>
    private static (float[] X, float[] Y) RandomBatch(int batch, int features, int classes, int seed)
    {
        var random = new Random(seed);
        var x = new float[batch * features];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle();
        var y = new float[batch];
        for (int i = 0; i < batch; i++) y[i] = i % classes;
        return (x, y);
    }
}
