using System.Globalization;

namespace Compiled.Benchmarks;

/// <summary>The command line.</summary>
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
          --peer-coretype NAME   OPENBLAS_CORETYPE for the peer (default Cooperlake: on these AVX-512 AMD machines the
                              fastest kernel set that is still correct, SGEMM 159 against Haswell's 86 GFLOP/s)
          --no-peer           time our side only (no PyTorch needed; peer columns are blank)
          --conv-report       print the convolution kernels' GFLOP/s on the MNIST, CIFAR and LeNet-5 layers and every
                              call of LeNet-5's step timed alone, and exit (CONV_REPORT_MODEL=text: only those names)
          --step-report       print where the MLP 784-128-10 batch-64 step and its predictions spend their time and exit
          --lstm-report       print where the character LSTM's batch-32 training step spends its time, call by call, on
                              one core and two, beside each call's FLOP floor, and exit (LSTM_REPORT=text: only those pieces)
          --gemm-report       print the GEMM's GFLOP/s on the large shapes (1024³, the batch-1024 MLP's products) on one
                              core and two, beside the FMA probe at several chain counts, and exit (--rounds N: best of N)
          --device cpu|gpu    gpu: our generated GPU twins (ILGPU, CUDA) against PyTorch on CUDA (default cpu);
                              gpu-simulator runs our GPU kernels on ILGPU's CPU accelerator (a smoke test, not numbers)
        Run `dotnet build-server shutdown` first so no build server competes for the cores.
        """;

    public string? JsonPath { get; private set; }
    public bool Quick { get; private set; }
    public bool NoPeer { get; private set; }
    public bool ConvReport { get; private set; }
    public bool StepReport { get; private set; }
    public bool GemmReport { get; private set; }
    public bool LstmReport { get; private set; }
    public bool Help { get; private set; }
    public int? Rounds { get; private set; }
    public List<string> Only { get; } = [];
    public string Python { get; private set; } =
        Environment.GetEnvironmentVariable("COMPILED_BENCH_PYTHON") is { Length: > 0 } p ? p
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    public int PeerThreads { get; private set; } = Environment.ProcessorCount;
    public int PeerBlasThreads { get; private set; } = 1;

    /// <summary>OPENBLAS_CORETYPE for the peer (the environment here sets Haswell, which is half as fast).</summary>
    public string PeerCoreType { get; private set; } = "Cooperlake";
    public string Device { get; private set; } = "cpu";

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
                case "--no-peer": o.NoPeer = true; break;
                case "--conv-report": o.ConvReport = true; break;
                case "--step-report": o.StepReport = true; break;
                case "--gemm-report": o.GemmReport = true; break;
                case "--lstm-report": o.LstmReport = true; break;
                case "--rounds": o.Rounds = Count(); break;
                case "--only": o.Only.Add(Value()); break;
                case "--python": o.Python = Value(); break;
                case "--peer-threads": o.PeerThreads = Count(); break;
                case "--peer-blas-threads": o.PeerBlasThreads = Count(); break;
                case "--peer-coretype": o.PeerCoreType = Value(); break;
                case "--device":
                    string device = Value();
                    o.Device = device is "cpu" or "gpu" or "gpu-simulator"
                        ? device : throw new ArgumentException("--device takes cpu, gpu or gpu-simulator.");
                    break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{args[i]}'.");
            }
        }
        return o;
    }
}
