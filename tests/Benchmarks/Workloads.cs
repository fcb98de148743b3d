using System.Diagnostics;
using Compiled.Gpu;
using Compiled.Gpu.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Benchmarks;

/// <summary>
/// One benchmarked operation. <see cref="Run"/> performs it <c>iterations</c> times back to back and returns
/// the elapsed Stopwatch ticks; the peer (peer.py) runs the workload of the same <see cref="Name"/>.
/// </summary>
/// <remarks><see cref="Flops"/>, when not zero, is the floating-point work of one iteration: the report adds the
/// throughput of each side.</remarks>
/// <remarks><see cref="InProcessPeer"/>, when set, is the peer's side run in this process (ONNX Runtime), timed like ours
/// (<see cref="PeerCheck"/> gives its last-loss column); otherwise the peer is peer.py.</remarks>
internal sealed record Workload(string Name, string Description, Func<int, long> Run, Func<float> LastLoss, double Flops = 0)
{
    public Func<int, long>? InProcessPeer { get; init; }

    public Func<float>? PeerCheck { get; init; }
}

internal static class Workloads
{
    /// <summary>The workload names, whichever device runs them.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["mlp-784-128-10-b64", "mlp-784-128-10-b1-infer", "mlp-784-1024-1024-10-b1024", "sgemm-1024", "sgemm-8192",
         "mnist-cnn-b64", "cifar-cnn-b64", "lenet5-b64", "char-lstm-b32-t64", .. OrtWorkloads.Names];

    // Multiply-adds per sample of each CNN's layers (Peak.StepFlops), first layer first.
    private static readonly double[] s_mnistCnnMacs =
        [Peak.ConvMacs(26, 26, 32, 1, 3, 3), Peak.ConvMacs(11, 11, 64, 32, 3, 3), 1600 * 128, 128 * 10];
    private static readonly double[] s_cifarCnnMacs =
        [Peak.ConvMacs(30, 30, 32, 3, 3, 3), Peak.ConvMacs(13, 13, 64, 32, 3, 3), Peak.ConvMacs(4, 4, 128, 64, 3, 3), 512 * 512, 512 * 10];
    private static readonly double[] s_leNet5Macs =
        [Peak.ConvMacs(28, 28, 6, 1, 5, 5), Peak.ConvMacs(10, 10, 16, 6, 5, 5), 400 * 120, 120 * 84, 84 * 10];

    /// <summary>The workloads on the CPU, or on <paramref name="gpu"/> through the models' generated GPU twins.</summary>
    public static IReadOnlyList<Workload> Create(GpuDevice? gpu) => gpu is null
        ?
        [
            Train(Names[0], "training step, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), 64, Peak.MlpStepFlops(64, 784, 128, 10)),
            Infer(Names[1], "one-sample prediction, 784-128-10 MLP", new Mlp784x128(seed: 1), 2.0 * (784 * 128 + 128 * 10)),
            Train(Names[2], "training step, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), 1024,
                Peak.MlpStepFlops(1024, 784, 1024, 1024, 10)),
            Sgemm1024(Names[3]),
            Train(Names[5], "training step, the primers' MNIST CNN, batch 64", new MnistCnn(seed: 1), 64, Peak.StepFlops(64, s_mnistCnnMacs)),
            Train(Names[6], "training step, the primers' CIFAR-10 CNN, batch 64", new CifarCnn(seed: 1), 64, Peak.StepFlops(64, s_cifarCnnMacs)),
            Train(Names[7], "training step, LeNet-5 (28x28), batch 64", new LeNet5(seed: 1), 64, Peak.StepFlops(64, s_leNet5Macs)),
            TrainTokens(Names[8], "training step, character LSTM (embedding 65x64, LSTM 128, softmax per step), batch 32, 64 steps",
                new CharLstm(seed: 1), 32, 65, CharLstmFlops(32, 64, 64, 128, 65)),
            .. OrtWorkloads.Create(),
        ]
        :
        [
            GpuTrain(Names[0], "training step on the GPU twin, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), gpu, 64),
            GpuInfer(Names[1], "one-sample prediction on the GPU twin, 784-128-10 MLP", new Mlp784x128(seed: 1), gpu),
            GpuTrain(Names[2], "training step on the GPU twin, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), gpu, 1024),
            GpuSgemm(Names[4], gpu),
            GpuTrain(Names[5], "training step on the GPU twin, the primers' MNIST CNN, batch 64", new MnistCnn(seed: 1), gpu, 64),
            GpuTrain(Names[6], "training step on the GPU twin, the primers' CIFAR-10 CNN, batch 64", new CifarCnn(seed: 1), gpu, 64),
            GpuTrain(Names[7], "training step on the GPU twin, LeNet-5, batch 64", new LeNet5(seed: 1), gpu, 64),
        ];

    /// <summary>
    /// C = A·Bᵀ + bias at 1024³ on the CPU, through the public API: a 1024 → 1024 linear layer's forward pass at batch
    /// 1024 (the CPU GEMM with its fused bias epilogue). The peer runs <c>F.linear</c> under <c>no_grad</c>.
    /// </summary>
    private static Workload Sgemm1024(string name)
    {
        const int n = 1024;
        var model = new Linear1024(seed: 1);
        (float[] x, _) = RandomBatch(n, n, 1, seed: 7);
        var y = new float[n * n];
        long Run(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) model.Forward(x, y, n);
            return Stopwatch.GetTimestamp() - start;
        }
        CheckProduct(name, n, x, model.Parameters[..(n * n)].ToArray(), model.Parameters[(n * n)..].ToArray(), y, Run);
        return new Workload(name, $"C = A·Bᵀ + bias, {n}³ (a {n} → {n} linear layer's forward at batch {n})", Run, () => float.NaN,
            Flops: 2.0 * n * n * n);
    }

    /// <summary>
    /// C = A·Bᵀ + bias at 8192³ on the GPU with the GEMM the generated kernels use (<see cref="Dense.Forward"/>,
    /// identity epilogue), every size a literal as in generated code; the peer runs <c>F.linear</c> on CUDA (cuBLAS,
    /// FP32: TF32 off). On the CPU simulator the size is 256: a smoke test of the harness, not a number.
    /// </summary>
    private static Workload GpuSgemm(string name, GpuDevice device)
    {
        int n = device.IsSimulator ? SmokeSize : LargeSize;
        Accelerator accelerator = device.Accelerator;
        (float[] a, _) = RandomBatch(n, n, 1, seed: 7);
        (float[] b, _) = RandomBatch(n, n, 1, seed: 8);
        float[] bias = RandomBatch(1, n, 1, seed: 9).X;
        MemoryBuffer1D<float, Stride1D.Dense> da = accelerator.Allocate1D(a), db = accelerator.Allocate1D(b),
            dbias = accelerator.Allocate1D(bias), dc = accelerator.Allocate1D<float>((long)n * n);
        Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> kernel = n == LargeSize
            ? accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SgemmLarge)
            : accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SgemmSmoke);
        KernelConfig config = Launch.DenseForward(n, n);
        long Run(int iterations)
        {
            device.Synchronize();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) kernel(config, da.View, db.View, dbias.View, dc.View);
            device.Synchronize($"{name}");
            return Stopwatch.GetTimestamp() - start;
        }
        var c = new float[(long)n * n];
        CheckProduct(name, n, a, b, bias, c, iterations =>
        {
            long ticks = Run(iterations);
            dc.View.CopyToCPU(c);
            return ticks;
        });
        return new Workload(name, $"C = A·Bᵀ + bias, {n}³, the generated kernels' GEMM on {device.Name}", Run, () => float.NaN,
            Flops: 2.0 * n * n * n);
    }

    private const int LargeSize = 8192, SmokeSize = 256;

    private static void SgemmLarge(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c) =>
        Dense.Forward<Identity>(c, c, a, b, bias, LargeSize, LargeSize, LargeSize, false);

    private static void SgemmSmoke(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c) =>
        Dense.Forward<Identity>(c, c, a, b, bias, SmokeSize, SmokeSize, SmokeSize, false);

    /// <summary>
    /// Runs the product once and checks 64 entries of C against double-precision dot products, so the benchmark
    /// cannot time a kernel that computes the wrong thing.
    /// </summary>
    private static void CheckProduct(string name, int n, float[] a, float[] b, float[] bias, float[] c, Func<int, long> runOnce)
    {
        runOnce(1);
        var random = new Random(11);
        for (int probe = 0; probe < 64; probe++)
        {
            int row = random.Next(n), col = random.Next(n);
            double expected = bias[col], scale = Math.Abs(bias[col]);
            for (int k = 0; k < n; k++)
            {
                double term = (double)a[(long)row * n + k] * b[(long)col * n + k];
                expected += term;
                scale += Math.Abs(term);
            }
            double actual = c[(long)row * n + col];
            if (Math.Abs(actual - expected) > 1e-5 * scale)
                throw new InvalidOperationException(
                    $"{name}: C[{row}, {col}] = {actual}, but the double-precision dot product is {expected}: the product is wrong.");
        }
    }

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
    private static Workload Train(string name, string description, IModel model, int batch, double flops)
    {
        (float[] x, float[] y) = RandomBatch(batch, model.InputSize, model.OutputSize, seed: 7);
        return TrainOn(name, description, model, batch, x, y, flops);
    }

    /// <summary>Training steps (gradients, then an Adam update) of <paramref name="model"/> on one fixed batch.</summary>
    private static Workload TrainOn(string name, string description, IModel model, int batch, float[] x, float[] y, double flops)
    {
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
        return new Workload(name, description, Run, () => loss, flops);
    }

    /// <summary>A training step of a model that reads token ids: random ids in [0, vocabulary) in, a random next id per step
    /// as the target.</summary>
    private static Workload TrainTokens(string name, string description, IModel model, int batch, int vocabulary, double flops)
    {
        var random = new Random(7);
        var x = new float[batch * model.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = random.Next(vocabulary);
        var y = new float[batch * model.TargetSize];
        for (int i = 0; i < y.Length; i++) y[i] = random.Next(vocabulary);
        return TrainOn(name, description, model, batch, x, y, flops);
    }

    /// <summary>
    /// An embedding → LSTM (every step) → per-step Dense training step: per row (batch·steps of them) the input projection
    /// width·4h, the recurrent product h·4h and the Dense h·classes multiply-adds; forward 2·rows·macs, and the backward
    /// twice that (weight gradients, and input gradients for every product, the embedding's included).
    /// </summary>
    private static double CharLstmFlops(int batch, int steps, int width, int hidden, int classes)
    {
        double macs = (double)width * 4 * hidden + (double)hidden * 4 * hidden + (double)hidden * classes;
        return 3 * 2.0 * batch * steps * macs;
    }

    /// <summary>One sample through <see cref="IModel.Forward"/> (softmax included), batch 1.</summary>
    private static Workload Infer(string name, string description, IModel model, double flops)
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
        return new Workload(name, description, Run, () => output.Sum(), flops);
    }

    /// <summary>MNIST-shaped data: pixels uniform in [0, 1), label of sample i is i % classes.</summary>
    internal static (float[] X, float[] Y) RandomBatch(int batch, int features, int classes, int seed)
    {
        var random = new Random(seed);
        var x = new float[batch * features];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle();
        var y = new float[batch];
        for (int i = 0; i < batch; i++) y[i] = i % classes;
        return (x, y);
    }
}
