using Xunit;

namespace Compiled.Runtime.Tests.Training;

/// <summary>
/// Guards the training loop against silent change: the same seed, data and optimizer give, bit for bit, the losses
/// recorded from the trainer as it was before the CPU and GPU <c>Fit</c> shared one epoch loop (2026-11-30).
/// </summary>
public class RecordedRunTests
{
    /// <summary>300 samples of 4 features from a seeded generator; the class is the largest of three linear scores.</summary>
    private static Dataset Synthetic(int count, int seed)
    {
        var rng = new Rng(seed);
        var features = new float[count * 4];
        var labels = new float[count];
        for (int i = 0; i < count; i++)
        {
            Span<float> x = features.AsSpan(i * 4, 4);
            for (int j = 0; j < 4; j++) x[j] = 2f * rng.NextFloat() - 1f;
            float a = x[0] + 0.5f * x[1], b = x[2] - x[3], c = 0.3f - x[0] * x[2];
            labels[i] = a > b ? (a > c ? 0 : 2) : (b > c ? 1 : 2);
        }
        return new Dataset(features, labels, 4, 1);
    }

    public static TheoryData<string> Runs => new(["adam-cosine-clip", "sgd-nesterov-noshuffle", "rmsprop-momentum"]);

    private static (Optimizer Optimizer, bool Shuffle) Configure(string run) => run switch
    {
        "adam-cosine-clip" => (new Adam(0.01) { Schedule = new CosineDecay(4), ClipNorm = 0.5 }, true),
        "sgd-nesterov-noshuffle" => (new Sgd(0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3), false),
        _ => (new RmsProp(0.003, momentum: 0.5), true),
    };

    /// <summary>Per epoch: the training loss's bits, then the validation loss's bits; then a digest of the weights.</summary>
    /// <remarks>Recorded on AVX-512 (the CI machines' kind); a kernel change that moves the last bits of a GEMM on purpose
    /// re-records them, in the commit that makes the change.</remarks>
    private static readonly Dictionary<string, string> s_recorded = new()
    {
        ["adam-cosine-clip"] = "3FEFBEDE028F5C29/3FE79AF2C4E6FE86 3FE40F9C05C28F5C/3FE0E767F8799911 3FDF8A013258BF26/3FDC82BE102D7965 3FDCD497681B4E82/3FDB730B5AF895CC 9955E6FCA3CB495C",
        ["sgd-nesterov-noshuffle"] = "3FEC48BC05F92C60/3FE2355EACD01D8D 3FDDA0E205F92C60/3FD68218F5B66285 3FD7DD880740DA74/3FD34F431CC0B638 3FD6DAC21C28F5C3/3FD2684B80312181 8F5B805F90F17D96",
        ["rmsprop-momentum"] = "3FE785A8A6D3A06D/3FDE6493064A2B5D 3FDD0E5D5B4E81B5/3FD7D6C8039DEF9C 3FD9671D8B17E4B1/3FD646F7EA025613 3FD81FC438BF258C/3FD46E67AF087BC4 EBEA7E7A5281F03E",
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void LossSequenceIsBitIdenticalToTheRecordedOne(string run)
    {
        var model = new IrisNet(seed: 7);
        (Optimizer optimizer, bool shuffle) = Configure(run);
        History history = model.Fit(Synthetic(300, 11), epochs: 4, batchSize: 16, optimizer: optimizer,
            validation: Synthetic(50, 12), shuffle: shuffle, seed: 5, cancellationToken: TestContext.Current.CancellationToken);
        string actual = Describe(history, model.Parameters);
        TestContext.Current.TestOutputHelper?.WriteLine($"[\"{run}\"] = \"{actual}\",");
        Assert.True(s_recorded.TryGetValue(run, out string? expected), $"no recording for {run}: {actual}");
        Assert.Equal(expected, actual);
    }

    private static string Describe(History history, ReadOnlySpan<float> parameters)
    {
        var parts = new List<string>();
        foreach (EpochMetrics epoch in history)
            parts.Add($"{BitConverter.DoubleToInt64Bits(epoch.Loss):X16}/{BitConverter.DoubleToInt64Bits(epoch.ValidationLoss!.Value):X16}");
        ulong digest = 14695981039346656037UL; // FNV-1a over the weights' bits
        foreach (float p in parameters)
        {
            digest ^= (uint)BitConverter.SingleToInt32Bits(p);
            digest *= 1099511628211UL;
        }
        parts.Add($"{digest:X16}");
        return string.Join(" ", parts);
    }
}
