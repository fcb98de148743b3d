using Compiled.CompilerServices;
using Compiled.Runtime.Tests.Cpu;
using Xunit;

namespace Compiled.Runtime.Tests.Optimizers;

/// <summary>
/// Every optimizer's update is one loop written once over <c>ILanes</c> and run with AVX-512, AVX2 or one float at a
/// time, on one core or (from <c>Lanes.ParallelMinCount</c> elements) shared with the worker: every combination must
/// give the same bits (the PyTorch reference tests check the values on this machine's widest).
/// </summary>
[Collection(nameof(CpuKernels))]
public class OptimizerIsaTests
{
    public static TheoryData<string> Optimizers => ["sgd", "sgd-momentum", "sgd-nesterov", "adam", "adamw", "rmsprop", "rmsprop-momentum"];

    private static Optimizer Create(string name) => name switch
    {
        "sgd" => new Sgd(0.1, weightDecay: 0.01),
        "sgd-momentum" => new Sgd(0.1, momentum: 0.9, weightDecay: 0.01),
        "sgd-nesterov" => new Sgd(0.1, momentum: 0.9, nesterov: true),
        "adam" => new Adam(0.01, weightDecay: 0.01),
        "adamw" => new AdamW(0.01),
        "rmsprop" => new RmsProp(0.01, weightDecay: 0.01),
        "rmsprop-momentum" => new RmsProp(0.01, momentum: 0.9),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Every_instruction_set_and_core_count_gives_the_same_bits(string name)
    {
        // 16·64 + 13: whole AVX-512 and AVX2 vectors, then a tail only the one-float loop reaches; the larger size is
        // past the point where the worker takes chunks of the range.
        foreach (int n in new[] { 16 * 64 + 13, Lanes.ParallelMinCount + 1000 + 13 })
        {
            const int steps = 4;
            float[]? reference = null;
            string referenceRun = "";
            int tested = 0;
            foreach (KernelIsa isa in Support.Isas().Reverse())
                foreach (bool threads in new[] { false, true })
                {
                    float[] p = Support.Random(n, 1);
                    Optimizer optimizer = Create(name);
                    Support.With(isa, threads, () =>
                    {
                        for (int step = 0; step < steps; step++) optimizer.Step(p, Support.Random(n, 10 + step));
                    });
                    tested++;
                    string run = $"{isa}{(threads ? ", 2 cores" : "")}";
                    if (reference is null)
                    {
                        reference = p;
                        referenceRun = run;
                        Assert.NotEqual(Support.Random(n, 1), p); // the steps moved the parameters
                        continue;
                    }
                    int first = Enumerable.Range(0, n).FirstOrDefault(
                        i => BitConverter.SingleToInt32Bits(p[i]) != BitConverter.SingleToInt32Bits(reference[i]), -1);
                    Assert.True(first < 0,
                        $"{name}, {n} parameters: {run} gives {p[Math.Max(first, 0)]:R} at [{first}], {referenceRun} gives {reference[Math.Max(first, 0)]:R}");
                }
            Support.Log($"{name}: {tested} runs (instruction sets {string.Join(", ", Support.Isas())}, 1 and 2 cores) agree bit for bit over {steps} steps of {n} parameters");
        }
    }
}
