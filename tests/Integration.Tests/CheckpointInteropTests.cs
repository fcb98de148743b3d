using System.Security.Cryptography;
using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>
/// A saved <see cref="MnistCnn"/> loads into the equivalent PyTorch <c>nn.Sequential</c> (input NCHW) with
/// <c>load_state_dict(strict=True)</c> and predicts the same: Reference/make_checkpoint_reference.py loaded the checkpoint
/// this test writes (the JSON records its SHA-256, so the file PyTorch read is byte-identical to what Save writes now),
/// renamed our keys to nn.Sequential's indices, and recorded its predictions (float64) for fixed inputs.
/// </summary>
/// <remarks>
/// Key mapping: our <c>layers.N</c> counts layer attributes, activations fused; nn.Sequential also counts an activation
/// module after each layer that has one. For MnistCnn: layers.0 → 0 (Conv2d), layers.2 → 3 (Conv2d), layers.5 → 7
/// (Linear), layers.6 → 9 (Linear). To regenerate: run this test with COMPILED_CHECKPOINT_OUT=/tmp/mnist_cnn.safetensors,
/// then <c>make_checkpoint_reference.py /tmp/mnist_cnn.safetensors</c>.
/// </remarks>
public class CheckpointInteropTests
{
    /// <summary>The same formula as <c>pixel</c> in make_checkpoint_reference.py: 4 "images" with values in [0, 1].</summary>
    private static float Pixel(int i) => (float)(0.5 + 0.5 * Math.Sin(0.013 * i * i + 0.7 * i));

    [Fact]
    public void SavedMnistCnnLoadsIntoNnSequentialAndPredictsTheSame()
    {
        var model = new MnistCnn(seed: 7);
        string path = Environment.GetEnvironmentVariable("COMPILED_CHECKPOINT_OUT")
            ?? Path.Combine(Path.GetTempPath(), $"mnist-cnn-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        string reference = Path.Combine(AppContext.BaseDirectory, "Reference", "checkpoint_reference.json");
        JsonElement root = JsonDocument.Parse(File.ReadAllText(reference)).RootElement;
        try
        {
            model.Save(path);
            string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            Assert.Equal(root.GetProperty("sha256").GetString(), sha);
        }
        finally
        {
            if (Environment.GetEnvironmentVariable("COMPILED_CHECKPOINT_OUT") is null) File.Delete(path);
        }

        int batch = root.GetProperty("batch").GetInt32();
        float[] x = Enumerable.Range(0, batch * MnistCnn.InputSize).Select(Pixel).ToArray();
        var outputs = new float[batch * MnistCnn.OutputSize];
        model.Forward(x, outputs, batch);
        double[] expected = root.GetProperty("outputs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, outputs.Length);
        double maxError = expected.Zip(outputs, (e, o) => Math.Abs(e - o)).Max();
        int[] classes = root.GetProperty("classes").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] ours = Enumerable.Range(0, batch).Select(b => Array.IndexOf(outputs, outputs.Skip(b * 10).Take(10).Max(), b * 10) - b * 10).ToArray();
        var keys = root.GetProperty("key_mapping").EnumerateObject().Select(p => $"{p.Name} → {p.Value.GetString()}");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"MnistCnn checkpoint in PyTorch {root.GetProperty("torch").GetString()} nn.Sequential ({string.Join(", ", keys)}): " +
            $"max |Δprobability| {maxError:E2} over {batch} inputs; classes {string.Join(",", ours)}");
        Assert.True(maxError < 1e-5, $"predictions differ from PyTorch's by {maxError}");
        Assert.Equal(classes, ours);
    }
}
