using System.Diagnostics;

namespace Compiled.Benchmarks;

/// <summary>The median times of one workload, per iteration, and what was run to get them.</summary>
/// <remarks>Medians are what we quote; the best rounds show how far other processes disturbed the run.</remarks>
internal sealed record Result(string Workload, string Description, double OursUs, double PeerUs, double OursBestUs, double PeerBestUs, int Rounds,
    int OursIterations, int PeerIterations, float OursLoss, float PeerLoss, double Flops = 0)
{
    /// <summary>Peer time / our time: above 1 means we are faster.</summary>
    public double Ratio => PeerUs / OursUs;
}

/// <summary>How long to warm up, how long one side's round lasts, how many rounds, the cap per workload, and the pause
/// before each side's round.</summary>
/// <remarks>The pause lets the other side's threads go idle first: ONNX Runtime's and OpenMP's pool threads spin after
/// a run, and on two cores a spinning thread takes a core from the side being timed (batch-64 prediction, ours in
/// blocks after ORT's: mean 62 µs back to back, 40 µs after a 100 ms pause, 38 with no ORT in the process;
/// <c>FWD_REPORT=dist</c>). Our worker spins 200 µs, so the pause changes nothing for the peer.</remarks>
internal sealed record RunSettings(double WarmupSeconds, double RoundSeconds, int Rounds, double MaxSecondsPerWorkload,
    int SettleMilliseconds = 100)
{
    public static RunSettings Full { get; } = new(WarmupSeconds: 1.0, RoundSeconds: 0.2, Rounds: 15, MaxSecondsPerWorkload: 120);
    public static RunSettings Quick { get; } = new(WarmupSeconds: 0.3, RoundSeconds: 0.05, Rounds: 5, MaxSecondsPerWorkload: 30, SettleMilliseconds: 20);
}

internal static class Bench
{
    /// <summary>Times <paramref name="workload"/> against its in-process peer (ONNX Runtime) or <paramref name="peer"/>, or
    /// alone when it has neither (peer times NaN).</summary>
    public static Result Run(Workload workload, Peer? peer, RunSettings settings)
    {
        // Warm-up: run each side in doubling batches until it has run for WarmupSeconds (tiered JIT, caches,
        // torch's allocator); the best of the later batches sizes a round.
        Func<int, (double Microseconds, float Loss)>? peerRun = workload.InProcessPeer is { } inProcess
            ? n => (TicksToUs(inProcess(n)) / n, workload.PeerCheck?.Invoke() ?? float.NaN)
            : peer is null ? null : n => peer.Run(workload.Name, n);
        double oursUs = WarmUp(n => TicksToUs(workload.Run(n)) / n, settings.WarmupSeconds);
        double peerUs = peerRun is null ? 0 : WarmUp(n => peerRun(n).Microseconds, settings.WarmupSeconds);
        int oursN = IterationsPerRound(oursUs, settings.RoundSeconds);
        int peerN = peerRun is null ? 0 : IterationsPerRound(peerUs, settings.RoundSeconds);

        // Slow workloads (a naive kernel can take seconds per step) get fewer rounds, never fewer than 3.
        double roundSeconds = (oursN * oursUs + peerN * peerUs) / 1e6;
        int rounds = Math.Max(3, Math.Min(settings.Rounds, (int)(settings.MaxSecondsPerWorkload / roundSeconds)));

        var ours = new double[rounds];
        var theirs = new double[rounds];
        float peerLoss = float.NaN;
        for (int r = 0; r < rounds; r++)
        {
            if (peerRun is not null) Thread.Sleep(settings.SettleMilliseconds);
            ours[r] = TicksToUs(workload.Run(oursN)) / oursN;
            if (peerRun is null)
            {
                theirs[r] = double.NaN;
                continue;
            }
            Thread.Sleep(settings.SettleMilliseconds);
            (theirs[r], peerLoss) = peerRun(peerN);
        }
        return new Result(workload.Name, workload.Description, Median(ours), Median(theirs), ours.Min(), theirs.Min(),
            rounds, oursN, peerN, workload.LastLoss(), peerLoss, workload.Flops);
    }

    /// <summary>Runs <paramref name="run"/>(n) (µs per iteration of n iterations) for n = 1, 2, 4, … until
    /// <paramref name="seconds"/> have passed; returns the best time per iteration of the last half of the
    /// batches (the early ones still JIT-compile; the best is the least disturbed by other processes).</summary>
    private static double WarmUp(Func<int, double> run, double seconds)
    {
        var times = new List<double>();
        double spent = 0;
        for (int n = 1; spent < seconds * 1e6; n = Math.Min(n * 2, 1 << 20))
        {
            double perIteration = run(n);
            times.Add(perIteration);
            spent += perIteration * n;
        }
        return times.Skip(times.Count / 2).Min();
    }

    private static int IterationsPerRound(double microseconds, double roundSeconds) =>
        (int)Math.Clamp(Math.Round(roundSeconds * 1e6 / Math.Max(microseconds, 1e-3)), 1, 1_000_000);

    private static double TicksToUs(long ticks) => ticks * 1e6 / Stopwatch.Frequency;

    private static double Median(double[] values)
    {
        double[] sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
