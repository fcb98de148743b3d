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
        ["adam-cosine-clip"] = "3FEFBEDDE9D0369D/3FE79AF2C97D33BB 3FE40F9BDD3A06D4/3FE0E76801800BD7 3FDF8A00D5555555/3FDC82BE3972967B 3FDCD49701B4E81B/3FDB730B7A360165 35C0B231A9359672",
        ["sgd-nesterov-noshuffle"] = "3FEC48BBEA740DA7/3FE2355EAF920FEF 3FDDA0E1A2222222/3FD682191ED65953 3FD7DD879C962FC9/3FD34F43220E0D20 3FD6DAC1B4E81B4F/3FD2684B7D934B7C 4918011D55E3364A",
        ["rmsprop-momentum"] = "3FE785A881EB851F/3FDE64930A30C972 3FDD0E5CFA740DA7/3FD7D6C80426FFFB 3FD9671D12C5F92C/3FD646F7ED8FEEB4 3FD81FC3DAE147AE/3FD46E67B234B00A 57883620EB966C48",
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
