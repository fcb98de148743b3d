// Side-by-side benchmark: Compiled's generated training step against PyTorch's, in one run, alternating rounds.
//
//   dotnet build-server shutdown
//   dotnet run -c Release --project tests/Benchmarks -- [--json results.json] [--quick]
//
// For each workload: warm both sides up, size a round to about the same wall time on each side, then run
// K rounds of (ours N iterations, peer M iterations) and report the median time per iteration of each side
// and ratio = peer / ours (above 1: we are faster). See --help for the options.

using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
// CONV_PLANAR=1 / -1 forces / forbids the convolution's planar (pixel-vector) kernels: -1 gives the kernels from before them.
if (int.TryParse(Environment.GetEnvironmentVariable("CONV_PLANAR"), out int planarMode)) Compiled.CompilerServices.Conv2D.PlanarMode = planarMode;
// STEP_AFFINITY=0 gives the claim order from before chunks had a home thread (both threads claim from the front) and
// cuts direct weight gradients by columns: the batch-64 MLP step as it ran before, for a before/after in one build.
if (Environment.GetEnvironmentVariable("STEP_AFFINITY") == "0")
{
    Compiled.CompilerServices.Worker.Affinity = false;
    Compiled.CompilerServices.Gemm.SplitWeightGradientRows = false;
}
// GEMM_IN_PLACE=0 packs A in every product again (reading x where it lies, up to 128 rows, is the default): a before/after
// in one build for the training forwards and the prediction.
if (Environment.GetEnvironmentVariable("GEMM_IN_PLACE") == "0") Compiled.CompilerServices.Gemm.InPlaceA = false;
if (options.StepReport)
{
    StepReport.Run();
    return 0;
}
if (options.ConvReport)
{
    ConvReport.Run();
    return 0;
}
if (options.LstmReport)
{
    LstmReport.Run();
    return 0;
}
if (options.GemmReport)
{
    GemmReport.Run(options.Rounds ?? 30);
    return 0;
}

foreach (string name in options.Only.Where(n => !Workloads.Names.Contains(n)))
{
    Console.Error.WriteLine($"error: unknown workload '{name}'. Known: {string.Join(", ", Workloads.Names)}");
    return 1;
}

// --device gpu: our generated GPU twins on CUDA; the peer runs on CUDA too.
Compiled.Gpu.GpuDevice? gpu = null;
try
{
    gpu = options.Device switch
    {
        "gpu" => Compiled.Gpu.GpuDevice.Open(),
        "gpu-simulator" => Compiled.Gpu.GpuDevice.OpenCpuSimulator(),
        _ => null,
    };
}
catch (Compiled.Gpu.GpuNotAvailableException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
using var device = gpu;
IReadOnlyList<Workload> available = Workloads.Create(gpu);
foreach (string name in options.Only.Where(n => available.All(w => w.Name != n)))
{
    Console.Error.WriteLine($"error: workload '{name}' does not run with --device {options.Device}. " +
        $"It has: {string.Join(", ", available.Select(w => w.Name))}");
    return 1;
}
List<Workload> selected = available.Where(w => options.Only.Count == 0 || options.Only.Contains(w.Name)).ToList();

// The *-infer-ort rows carry their peer (ONNX Runtime, in this process); peer.py is started only when a row needs it.
Peer? peer = null;
if (!options.NoPeer && selected.Any(w => w.InProcessPeer is null))
{
    try
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer.py");
        peer = Peer.Start(options.Python, script, options.PeerThreads, options.PeerBlasThreads, options.Device == "gpu" ? "cuda" : "cpu",
            options.PeerCoreType);
    }
    catch (Exception e) when (e is PeerUnavailableException or TimeoutException)
    {
        Console.Error.WriteLine("error: the PyTorch peer is unavailable, so nothing can be compared.");
        Console.Error.WriteLine(e.Message);
        Console.Error.WriteLine("It needs Python 3 with torch: on Debian `apt-get install python3-torch libopenblas0-pthread`,");
        Console.Error.WriteLine("then pass --python PATH (or set COMPILED_BENCH_PYTHON) if it is not /usr/bin/python3.");
        return 2;
    }
}

using (peer)
{
    // The ceiling for every FLOP/s below: FMAs in registers on the kernels' two threads at the kernels' width.
    double peak = gpu is null ? Compiled.Benchmarks.Peak.Measure() : 0;
    var settings = options.Quick ? RunSettings.Quick : RunSettings.Full;
    if (options.Rounds is int rounds) settings = settings with { Rounds = rounds };
    if (int.TryParse(Environment.GetEnvironmentVariable("COMPILED_BENCH_SETTLE_MS"), out int settle) && settle >= 0)
        settings = settings with { SettleMilliseconds = settle };

    string loadBefore = Machine.LoadAverage();
    Console.WriteLine($"Compiled vs PyTorch, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Machine.Describe()}");
    Console.WriteLine(gpu is null
        ? $"  ours: {RuntimeInformation.FrameworkDescription}, Vector512 accelerated: {Vector512.IsHardwareAccelerated}, " +
          $"{Environment.ProcessorCount} cores available to our kernels"
        : $"  ours: {RuntimeInformation.FrameworkDescription}, generated GPU twins on {gpu}");
    Console.WriteLine(peer is null ? "  peer: no PyTorch (--no-peer, or only *-infer-ort rows)" : $"  peer: {peer.Banner} (torch.set_num_threads({options.PeerThreads}))");
    if (selected.Any(w => w.InProcessPeer is not null))
        Console.WriteLine($"  *-infer-ort rows: peer = ONNX Runtime {OrtWorkloads.Version} in this process, CPU provider, " +
            $"{OrtWorkloads.IntraOpThreads} intra-op threads, running the model Compiled.Onnx exports (same weights); ours = Forward");
    if (peak > 0)
        Console.WriteLine($"  FMA peak on the kernels' threads (caller + worker, {Compiled.Hardware.KernelIsa}): {peak / 1e9:0.0} GFLOP/s");
    Console.WriteLine($"  {settings.Rounds} alternating rounds of ~{settings.RoundSeconds * 1000:0} ms per side, each after a " +
        $"{settings.SettleMilliseconds} ms pause (the other side's threads go idle), " +
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
    Report.PrintTable(results, Console.Out, peak);
    Console.WriteLine($"Load average before/after: {loadBefore} / {Machine.LoadAverage()} " +
        "(other processes on these cores skew both sides; the alternation spreads it over both).");
    if (options.JsonPath is string path)
    {
        Report.WriteJson(results, path, peak);
        Console.WriteLine($"wrote {path}");
    }
}
return 0;
