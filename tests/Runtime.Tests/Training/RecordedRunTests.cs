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
        ["adam-cosine-clip"] = "3FEFBEDE04444444/3FE79AF2C0E2CA5C 3FE40F9C04E81B4F/3FE0E767FA8B6F09 3FDF8A012C5F92C6/3FDC82BE236E31EF 3FDCD4975C28F5C3/3FDB730B684A813D 0CCB1ACBC48FF797",
        ["sgd-nesterov-noshuffle"] = "3FEC48BC01EB851F/3FE2355EA4BF7A51 3FDDA0E2028F5C29/3FD682190D9125DA 3FD7DD88028F5C29/3FD34F4323E49253 3FD6DAC23999999A/3FD2684BAA902741 752E7A2663A57D7C",
        ["rmsprop-momentum"] = "3FE785A8A7777777/3FDE64930EAC66E1 3FDD0E5D569D036A/3FD7D6C7F7A2B76E 3FD9671D86D3A06D/3FD646F7E6900FDB 3FD81FC43851EB85/3FD46E67ABCDD114 0C3DD7766D7A6F41",
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
