using System.Diagnostics;
using Xunit;

namespace Compiled.Runtime.Tests.Checkpoints;

/// <summary>
/// Checkpoints must move between Compiled and PyTorch. pytorch_roundtrip.py (pure Python, no safetensors package)
/// loads a file from our Save into <c>nn.ModuleList([nn.Linear, nn.Linear])</c> with <c>load_state_dict(strict=True)</c>,
/// records torch's outputs on a fixed input, and writes a checkpoint of its own with its outputs. The files it wrote
/// for <see cref="TinyMlp"/> are checked in under Fixtures/, so CI (which has no torch) checks them on every run;
/// where <c>/usr/bin/python3</c> has torch, the script also runs live on freshly saved files.
/// Set UPDATE_FIXTURES=1 (with torch present) to rewrite the fixtures from a live run.
/// </summary>
public sealed class PyTorchCompatibilityTests
{
    private const string Python = "/usr/bin/python3";
    private const float Tolerance = 1e-5f;

    private static string ScriptPath => TestData.RepoFile("tests/Runtime.Tests/Checkpoints/pytorch_roundtrip.py");
    private static string FixturesDirectory => Path.Combine(Path.GetDirectoryName(ScriptPath)!, "Fixtures");

    [Fact]
    public void Recorded_torch_checkpoint_and_outputs_match_our_model()
    {
        VerifyAgainstTorch(Path.Combine(FixturesDirectory, "ours_tiny.safetensors"), FixturesDirectory, seed => new TinyMlp(seed));
    }

    [Fact]
    public void Our_writer_still_produces_the_file_torch_read()
    {
        // The recorded file came from our Save; saving the same weights today must give the same bytes,
        // or the fixture no longer proves that torch reads what we write.
        using var dir = new TempDirectory();
        string recorded = Path.Combine(FixturesDirectory, "ours_tiny.safetensors");
        TinyMlp model = TinyMlp.Load(recorded);
        model.Save(dir.File("again.safetensors"));
        Assert.Equal(File.ReadAllBytes(recorded), File.ReadAllBytes(dir.File("again.safetensors")));
    }

    [Fact]
    public void Live_round_trip_with_torch_or_the_recorded_fixtures()
    {
        if (!TorchAvailable(out string why))
        {
            // Not a silent pass: without torch, this test checks the recorded files instead.
            TestContext.Current.SendDiagnosticMessage($"PyTorch not available ({why}); verifying the recorded fixtures only.");
            VerifyAgainstTorch(Path.Combine(FixturesDirectory, "ours_tiny.safetensors"), FixturesDirectory, seed => new TinyMlp(seed));
            return;
        }

        using var tiny = new TempDirectory();
        string tinyFile = tiny.File("ours_tiny.safetensors");
        WithBiases(new TinyMlp(seed: 7)).Save(tinyFile);
        RunScript(tinyFile, tiny.Path);
        VerifyAgainstTorch(tinyFile, tiny.Path, seed => new TinyMlp(seed));

        using var mnist = new TempDirectory();
        string mnistFile = mnist.File("ours_mnist.safetensors");
        WithBiases(new CheckpointMlp(seed: 7)).Save(mnistFile);
        RunScript(mnistFile, mnist.Path);
        VerifyAgainstTorch(mnistFile, mnist.Path, seed => new CheckpointMlp(seed));

        if (Environment.GetEnvironmentVariable("UPDATE_FIXTURES") == "1")
        {
            Directory.CreateDirectory(FixturesDirectory);
            foreach (string file in Directory.GetFiles(tiny.Path))
                File.Copy(file, Path.Combine(FixturesDirectory, Path.GetFileName(file)), overwrite: true);
        }
    }

    /// <summary>
    /// <paramref name="ours"/> was read by torch, which wrote torch_outputs_on_ours, torch_model and
    /// torch_outputs_on_torch into <paramref name="directory"/>. Our Forward must reproduce torch's outputs on both
    /// checkpoints within <see cref="Tolerance"/>.
    /// </summary>
    private static void VerifyAgainstTorch(string ours, string directory, Func<int, IModel> create)
    {
        IModel model = create(101);
        model.LoadWeights(ours);
        float maxOurs = MaxDifference(model, Path.Combine(directory, "torch_outputs_on_ours.safetensors"));

        IModel fromTorch = create(102);
        int[] before = SafetensorsFiles.Bits(fromTorch.Parameters);
        fromTorch.LoadWeights(Path.Combine(directory, "torch_model.safetensors"));
        Assert.NotEqual(before, SafetensorsFiles.Bits(fromTorch.Parameters));
        float maxTorch = MaxDifference(fromTorch, Path.Combine(directory, "torch_outputs_on_torch.safetensors"));

        TestContext.Current.SendDiagnosticMessage(
            $"{model.GetType().Name}: max |ours - torch| = {maxOurs:G3} on our checkpoint, {maxTorch:G3} on torch's checkpoint.");
    }

    private static float MaxDifference(IModel model, string outputsFile)
    {
        var tensors = Checkpoint.ReadAll(outputsFile, out _);
        (int[] inputShape, float[] input) = tensors["input"];
        (int[] outputShape, float[] expected) = tensors["output"];
        int batch = inputShape[0];
        Assert.Equal(new[] { batch, model.InputSize }, inputShape);
        Assert.Equal(new[] { batch, model.OutputSize }, outputShape);

        var actual = new float[expected.Length];
        model.Forward(input, actual, batch);
        float max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            float diff = MathF.Abs(actual[i] - expected[i]);
            Assert.True(diff <= Tolerance, $"output {i} of {outputsFile}: ours {actual[i]}, torch {expected[i]} (|diff| {diff})");
            max = MathF.Max(max, diff);
        }
        // The outputs must say something: not all the same value.
        Assert.True(expected.Max() - expected.Min() > 0.01f, $"{outputsFile} holds near-constant outputs");
        return max;
    }

    /// <summary>Gives every bias a distinct non-zero value, so the check covers biases too.</summary>
    private static IModel WithBiases(IModel model)
    {
        Span<float> p = model.Parameters;
        foreach (TensorInfo t in model.Tensors)
            if (t.Name.EndsWith(".bias", StringComparison.Ordinal))
                for (int i = 0; i < t.Length; i++) p[t.Offset + i] = 0.05f * (i % 7) - 0.15f;
        return model;
    }

    private static bool TorchAvailable(out string why)
    {
        if (!File.Exists(Python))
        {
            why = $"{Python} does not exist";
            return false;
        }
        (int code, string output) = Run(Python, ["-c", "import torch"], TimeSpan.FromSeconds(120));
        why = code == 0 ? "" : $"{Python} cannot import torch: {output.Trim()}";
        return code == 0;
    }

    private static void RunScript(string ours, string outDir)
    {
        (int code, string output) = Run(Python, [ScriptPath, ours, outDir], TimeSpan.FromSeconds(300));
        Assert.True(code == 0, $"pytorch_roundtrip.py failed ({code}):{Environment.NewLine}{output}");
        TestContext.Current.SendDiagnosticMessage(output.Trim());
    }

    private static (int Code, string Output) Run(string file, string[] arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["OPENBLAS_NUM_THREADS"] = "1";
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
