// Side-by-side benchmark: Compiled's generated training step against PyTorch's, in one run, alternating rounds.
//
//   dotnet build-server shutdown
//   dotnet run -c Release --project tests/Benchmarks -- [--json results.json] [--quick]
//
// For each workload: warm both sides up, size a round to about the same wall time on each side, then run
// K rounds of (ours N iterations, peer M iterations) and report the median time per iteration of each side
// and ratio = peer / ours (above 1: we are faster). See --help for the options.

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using Compiled.Benchmarks;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

Options options;
try
{
    options = Options.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(Options.Usage);
    return 1;
}
if (options.Help)
{
    Console.WriteLine(Options.Usage);
    return 0;
}

List<Workload> selected = Workloads.All.Where(w => options.Only.Count == 0 || options.Only.Contains(w.Name)).ToList();
foreach (string name in options.Only.Where(n => Workloads.All.All(w => w.Name != n)))
{
    Console.Error.WriteLine($"error: unknown workload '{name}'. Known: {string.Join(", ", Workloads.All.Select(w => w.Name))}");
    return 1;
}

Peer peer;
try
{
    string script = Path.Combine(AppContext.BaseDirectory, "peer.py");
    peer = Peer.Start(options.Python, script, options.PeerThreads, options.PeerBlasThreads);
}
catch (Exception e) when (e is PeerUnavailableException or TimeoutException)
{
    Console.Error.WriteLine("error: the PyTorch peer is unavailable, so nothing can be compared.");
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("It needs Python 3 with torch: on Debian `apt-get install python3-torch libopenblas0-pthread`,");
    Console.Error.WriteLine("then pass --python PATH (or set COMPILED_BENCH_PYTHON) if it is not /usr/bin/python3.");
    return 2;
}

using (peer)
{
    var settings = options.Quick ? RunSettings.Quick : RunSettings.Full;
    if (options.Rounds is int rounds) settings = settings with { Rounds = rounds };

    string loadBefore = Machine.LoadAverage();
    Console.WriteLine($"Compiled vs PyTorch, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Machine.Describe()}");
    Console.WriteLine($"  ours: {RuntimeInformation.FrameworkDescription}, Vector512 accelerated: {Vector512.IsHardwareAccelerated}, " +
        $"{Environment.ProcessorCount} cores available to our kernels");
    Console.WriteLine($"  peer: {peer.Banner} (torch.set_num_threads({options.PeerThreads}))");
    Console.WriteLine($"  {settings.Rounds} alternating rounds of ~{settings.RoundSeconds * 1000:0} ms per side, " +
        $"{settings.WarmupSeconds:0.#} s warm-up per side, medians per iteration{(options.Quick ? " (--quick)" : "")}");
    Console.WriteLine();

    var results = new List<Result>();
    foreach (Workload workload in selected)
    {
        Console.Error.Write($"  {workload.Name}: warming up…");
        try
        {
            results.Add(Bench.Run(workload, peer, settings));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Console.Error.WriteLine();
            Console.Error.WriteLine($"error: {workload.Name}: {e.Message}");
            return 1;
        }
        Console.Error.WriteLine(" done");
    }

    Console.WriteLine();
    Report.PrintTable(results, Console.Out);
    Console.WriteLine($"Load average before/after: {loadBefore} / {Machine.LoadAverage()} " +
        "(other processes on these cores skew both sides; the alternation spreads it over both).");
    if (options.JsonPath is string path)
    {
        Report.WriteJson(results, path);
        Console.WriteLine($"wrote {path}");
    }
}
return 0;

/// <summary>The median times of one workload, per iteration, and what was run to get them.</summary>
internal sealed record Result(string Workload, string Description, double OursUs, double PeerUs, int Rounds,
    int OursIterations, int PeerIterations, float OursLoss, float PeerLoss)
{
    /// <summary>Peer time / our time: above 1 means we are faster.</summary>
    public double Ratio => PeerUs / OursUs;
}

/// <summary>How long to warm up, how long one side's round lasts, how many rounds, and the cap per workload.</summary>
internal sealed record RunSettings(double WarmupSeconds, double RoundSeconds, int Rounds, double MaxSecondsPerWorkload)
{
    public static RunSettings Full { get; } = new(WarmupSeconds: 1.0, RoundSeconds: 0.2, Rounds: 15, MaxSecondsPerWorkload: 120);
    public static RunSettings Quick { get; } = new(WarmupSeconds: 0.3, RoundSeconds: 0.05, Rounds: 5, MaxSecondsPerWorkload: 30);
}

internal static class Bench
{
    public static Result Run(Workload workload, Peer peer, RunSettings settings)
    {
        // Warm-up: run each side in doubling batches until it has run for WarmupSeconds (tiered JIT, caches,
        // torch's allocator); the last batch gives the time per iteration that sizes a round.
        double oursUs = WarmUp(n => TicksToUs(workload.Run(n)) / n, settings.WarmupSeconds);
        double peerUs = WarmUp(n => peer.Run(workload.Name, n).Microseconds, settings.WarmupSeconds);
        int oursN = IterationsPerRound(oursUs, settings.RoundSeconds);
        int peerN = IterationsPerRound(peerUs, settings.RoundSeconds);

        // Slow workloads (a naive kernel can take seconds per step) get fewer rounds, never fewer than 3.
        double roundSeconds = (oursN * oursUs + peerN * peerUs) / 1e6;
        int rounds = Math.Max(3, Math.Min(settings.Rounds, (int)(settings.MaxSecondsPerWorkload / roundSeconds)));

        var ours = new double[rounds];
        var theirs = new double[rounds];
        float peerLoss = float.NaN;
        for (int r = 0; r < rounds; r++)
        {
            ours[r] = TicksToUs(workload.Run(oursN)) / oursN;
            (theirs[r], peerLoss) = peer.Run(workload.Name, peerN);
        }
        return new Result(workload.Name, workload.Description, Median(ours), Median(theirs), rounds, oursN, peerN,
            workload.LastLoss(), peerLoss);
    }

    /// <summary>Runs <paramref name="run"/>(n) (µs per iteration of n iterations) for n = 1, 2, 4, … until
    /// <paramref name="seconds"/> have passed; returns the last time per iteration.</summary>
    private static double WarmUp(Func<int, double> run, double seconds)
    {
        double spent = 0;
        for (int n = 1; ; n = Math.Min(n * 2, 1 << 20))
        {
            double perIteration = run(n);
            spent += perIteration * n;
            if (spent >= seconds * 1e6) return perIteration;
        }
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

internal static class Report
{
    public static void PrintTable(IReadOnlyList<Result> results, TextWriter output)
    {
        string[] header = ["workload", "ours µs", "peer µs", "peer/ours", "rounds", "iters ours/peer", "last loss ours/peer"];
        List<string[]> rows = results.Select(r => new[]
        {
            r.Workload,
            Format(r.OursUs),
            Format(r.PeerUs),
            $"{r.Ratio:0.00}x",
            r.Rounds.ToString(CultureInfo.InvariantCulture),
            $"{r.OursIterations}/{r.PeerIterations}",
            float.IsNaN(r.PeerLoss) ? "-" : $"{r.OursLoss:0.0000}/{r.PeerLoss:0.0000}",
        }).ToList();
        int[] widths = header.Select((h, i) => rows.Select(row => row[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] cells) =>
            "| " + string.Join(" | ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |";
        output.WriteLine(Line(header));
        output.WriteLine("|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (string[] row in rows) output.WriteLine(Line(row));
        output.WriteLine();
        output.WriteLine("µs = median time per iteration over the rounds; peer/ours above 1 means Compiled is faster.");
    }

    /// <summary>Writes [{"workload", "ours_us", "peer_us", "ratio"}, …] (ratio = peer / ours).</summary>
    public static void WriteJson(IReadOnlyList<Result> results, string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        using FileStream stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        writer.WriteStartArray();
        foreach (Result r in results)
        {
            writer.WriteStartObject();
            writer.WriteString("workload", r.Workload);
            writer.WriteNumber("ours_us", Math.Round(r.OursUs, 3));
            writer.WriteNumber("peer_us", Math.Round(r.PeerUs, 3));
            writer.WriteNumber("ratio", Math.Round(r.Ratio, 4));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static string Format(double us) => us >= 1000 ? us.ToString("#,0", CultureInfo.InvariantCulture) : us.ToString("0.0", CultureInfo.InvariantCulture);
}

internal static class Machine
{
    /// <summary>The 1-minute load average (Linux), or "n/a".</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    public static string Describe()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (model is not null) cpu = model[(model.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            // Not Linux: the architecture will do.
        }
        catch (UnauthorizedAccessException)
        {
        }
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}";
    }
}

internal sealed class Options
{
    public const string Usage = """
        usage: dotnet run -c Release --project tests/Benchmarks -- [options]
          --json PATH         also write [{"workload","ours_us","peer_us","ratio"}] to PATH (ratio = peer / ours)
          --quick             short warm-up, rounds and round times (a smoke run, not numbers to quote)
          --rounds N          alternating rounds per workload (default 15, --quick 5)
          --only NAME         run only this workload (repeatable)
          --python PATH       the Python with torch (default $COMPILED_BENCH_PYTHON, else /usr/bin/python3)
          --peer-threads N    torch.set_num_threads(N) for the peer (default: this machine's cores)
          --peer-blas-threads N  OPENBLAS_NUM_THREADS for the peer (default 1)
        Run `dotnet build-server shutdown` first so no build server competes for the cores.
        """;

    public string? JsonPath { get; private set; }
    public bool Quick { get; private set; }
    public bool Help { get; private set; }
    public int? Rounds { get; private set; }
    public List<string> Only { get; } = [];
    public string Python { get; private set; } =
        Environment.GetEnvironmentVariable("COMPILED_BENCH_PYTHON") is { Length: > 0 } p ? p
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    public int PeerThreads { get; private set; } = Environment.ProcessorCount;
    public int PeerBlasThreads { get; private set; } = 1;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Count() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                ? n : throw new ArgumentException($"{args[i - 1]} needs a positive whole number.");
            switch (args[i])
            {
                case "--json": o.JsonPath = Value(); break;
                case "--quick": o.Quick = true; break;
                case "--rounds": o.Rounds = Count(); break;
                case "--only": o.Only.Add(Value()); break;
                case "--python": o.Python = Value(); break;
                case "--peer-threads": o.PeerThreads = Count(); break;
                case "--peer-blas-threads": o.PeerBlasThreads = Count(); break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'.");
            }
        }
        return o;
    }
}
