using System.Diagnostics;
using Compiled.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Compiled.Benchmarks;

/// <summary>
/// The <c>*-infer-ort</c> rows: our <see cref="IModel.Forward"/> against ONNX Runtime's CPU provider (MLAS kernels) running
/// the file <see cref="OnnxExport.ToOnnx"/> writes for the same model, so both sides hold the same weights. ORT runs in
/// this process with 2 intra-op threads (our kernels use the caller and one worker), all graph optimisations, and
/// pre-bound input and output buffers (<see cref="OrtValue"/> over our arrays: no allocation per run on either side).
/// </summary>
internal static class OrtWorkloads
{
    public const int IntraOpThreads = 2;

    /// <summary>The rows' names, in the order they run.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["mlp-784-128-10-b1-infer-ort", "mlp-784-128-10-b64-infer-ort", "mlp-784-1024-1024-10-b1024-infer-ort", "mnist-cnn-b64-infer-ort"];

    /// <summary>ONNX Runtime's version, for the report.</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    public static IReadOnlyList<Workload> Create() =>
    [
        Infer(Names[0], "prediction, 784-128-10 MLP, batch 1", new Mlp784x128(seed: 1), [784], 1, 2.0 * (784 * 128 + 128 * 10)),
        Infer(Names[1], "prediction, 784-128-10 MLP, batch 64", new Mlp784x128(seed: 1), [784], 64, 64 * 2.0 * (784 * 128 + 128 * 10)),
        Infer(Names[2], "prediction, 784-1024-1024-10 MLP, batch 1024", new Mlp784x1024x1024(seed: 1), [784], 1024,
            1024 * 2.0 * (784 * 1024 + 1024 * 1024 + 1024 * 10)),
        Infer(Names[3], "prediction, MNIST CNN, batch 64", new MnistCnn(seed: 1), [28, 28, 1], 64,
            64 * 2.0 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 128 + 128 * 10)),
    ];

    private static Workload Infer(string name, string description, IModel model, int[] sampleShape, int batch, double flops)
    {
        var random = new Random(7);
        var x = new float[batch * model.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle();
        var ours = new float[batch * model.OutputSize];
        var theirs = new float[ours.Length];

        var options = new SessionOptions
        {
            IntraOpNumThreads = IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = Environment.GetEnvironmentVariable("COMPILED_ORT_LEVEL") == "extended"
                ? GraphOptimizationLevel.ORT_ENABLE_EXTENDED : GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        // Diagnostics for "why is ORT faster here": COMPILED_ORT_LEVEL=extended leaves out the layout optimisations (the
        // NCHWc convolutions), COMPILED_ORT_NO_PREPACK=1 stops MLAS from packing the constant weights once at load.
        if (Environment.GetEnvironmentVariable("COMPILED_ORT_NO_PREPACK") == "1")
            options.AddSessionConfigEntry("session.disable_prepacking", "1");
        var session = new InferenceSession(model.ToOnnx(), options);
        long[] inputShape = [batch, .. sampleShape.Select(d => (long)d)];
        OrtValue input = OrtValue.CreateTensorValueFromMemory(x, inputShape);
        OrtValue output = OrtValue.CreateTensorValueFromMemory(theirs, [batch, model.OutputSize]);
        string[] inputNames = ["input"], outputNames = ["output"];
        OrtValue[] inputs = [input], outputs = [output];
        var runOptions = new RunOptions();

        long Ours(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) model.Forward(x, ours, batch);
            return Stopwatch.GetTimestamp() - start;
        }
        long Ort(int iterations)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++) session.Run(runOptions, inputNames, inputs, outputNames, outputs);
            return Stopwatch.GetTimestamp() - start;
        }

        // Both sides must compute the same thing before either is timed.
        Ours(1);
        Ort(1);
        double maxError = 0;
        for (int i = 0; i < ours.Length; i++) maxError = Math.Max(maxError, Math.Abs(ours[i] - theirs[i]));
        if (maxError > 1e-4)
            throw new InvalidOperationException($"{name}: ONNX Runtime's outputs differ from Forward's by {maxError:E2}: the export is wrong.");
        Console.Error.WriteLine($"  {name}: max |Forward − ORT| = {maxError:E2}");

        // The prediction's sum over the batch (softmax rows sum to 1): not a loss, a check that both computed something.
        return new Workload(name, description, Ours, () => ours.Sum() / batch, flops)
        {
            InProcessPeer = Ort,
            PeerCheck = () => theirs.Sum() / batch,
        };
    }
}
