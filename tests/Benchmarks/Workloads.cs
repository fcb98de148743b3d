using System.Diagnostics;
using Compiled.Gpu;

namespace Compiled.Benchmarks;

/// <summary>
/// One benchmarked operation. <see cref="Run"/> performs it <c>iterations</c> times back to back and returns
/// the elapsed Stopwatch ticks; the peer (peer.py) runs the workload of the same <see cref="Name"/>.
/// </summary>
internal sealed record Workload(string Name, string Description, Func<int, long> Run, Func<float> LastLoss);

internal static class Workloads
{
    /// <summary>The workload names, whichever device runs them.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["mlp-784-128-10-b64", "mlp-784-128-10-b1-infer", "mlp-784-1024-1024-10-b1024"];

    /// <summary>The workloads on the CPU, or on <paramref name="gpu"/> through the models' generated GPU twins.</summary>
    public static IReadOnlyList<Workload> Create(GpuDevice? gpu) => gpu is null
        ?
        [
            Train(Names[0], "training step, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), 64),
            Infer(Names[1], "one-sample prediction, 784-128-10 MLP", new Mlp784x128(seed: 1)),
            Train(Names[2], "training step, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), 1024),
        ]
        :
        [
            GpuTrain(Names[0], "training step on the GPU twin, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), gpu, 64),
            GpuInfer(Names[1], "one-sample prediction on the GPU twin, 784-128-10 MLP", new Mlp784x128(seed: 1), gpu),
            GpuTrain(Names[2], "training step on the GPU twin, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), gpu, 1024),
        ];

    /// <summary>
    /// The same step on the device: upload through pinned staging, the generated launches, Adam's one-kernel update.
    /// Steps are asynchronous; a round ends with a synchronisation, so its time includes every queued step.
    /// </summary>
    private static Workload GpuTrain(string name, string description, IGpuModel model, GpuDevice device, int batch)
    {
        (float[] x, float[] y) = RandomBatch(batch, model.InputSize, model.OutputSize, seed: 7);
        GpuTwin twin = model.CreateGpuTwin(device);
        GpuOptimizer optimizer = GpuOptimizer.From(new Adam(1e-3));
        var losses = new float[GpuTwin.LossRingSize];
        float loss = float.NaN;
        long Run(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) twin.TrainStep(x, y, batch, optimizer);
            device.Synchronize();
            long elapsed = Stopwatch.GetTimestamp() - start;
            int read = twin.ReadLosses(losses, out _, out _);
            if (read > 0) loss = losses[read - 1];
            return elapsed;
        }
        return new Workload(name, description, Run, () => loss);
    }

    /// <summary>One sample through the twin's forward, result copied back to the host.</summary>
    private static Workload GpuInfer(string name, string description, IGpuModel model, GpuDevice device)
    {
        (float[] x, _) = RandomBatch(1, model.InputSize, model.OutputSize, seed: 7);
        GpuTwin twin = model.CreateGpuTwin(device);
        var output = new float[model.OutputSize];
        long Run(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) twin.Forward(x, output, 1);
            return Stopwatch.GetTimestamp() - start;
        }
        return new Workload(name, description, Run, () => output.Sum());
    }

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
