using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>
/// The recurrent time loops (<see cref="Recurrent"/>: W_hh packed once per call, register tiles of the recurrent
/// product with the cell fused, both cores claiming chunks of batch rows) against a naive double-precision
/// LSTM / GRU / RNN forward and BPTT, on every instruction set, with and without the second core: the outputs match
/// the reference within a bound, and the second core changes no bit.
/// </summary>
[Collection(nameof(CpuKernels))]
public sealed class RecurrentTests
{
    public enum Cell { Lstm, Gru, Rnn }

    /// <summary>Sizes that take the two-core path (batch·G·H ≥ <see cref="Recurrent.ParallelMinWork"/>, at least two
    /// chunks of 8 rows) with whole and partial unit blocks and partial row tiles, and small ones that stay on one core.</summary>
    public static TheoryData<Cell, int, int, int, bool> Cases => new()
    {
        { Cell.Lstm, 32, 6, 128, true },   // the char-LSTM's step: 8 whole blocks of 16 units
        { Cell.Lstm, 37, 5, 120, true },   // a partial unit block, an odd batch (a partial row tile)
        { Cell.Lstm, 200, 3, 24, false },  // many chunks of rows, few unit blocks; last step only
        { Cell.Lstm, 3, 4, 5, true },      // one core, fewer units than a vector
        { Cell.Lstm, 1, 5, 33, true },     // one sample (a prediction): the one-row tile
        { Cell.Gru, 48, 5, 120, true },
        { Cell.Gru, 2, 3, 7, false },
        { Cell.Gru, 1, 4, 20, false },
        { Cell.Rnn, 130, 4, 130, true },
        { Cell.Rnn, 4, 5, 3, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_and_backward_match_a_naive_double_reference_and_the_second_core_changes_no_bit(
        Cell cell, int batch, int steps, int units, bool sequences)
    {
        int gates = cell switch { Cell.Lstm => 4, Cell.Gru => 3, _ => 1 }, g = gates * units;
        int savedWidth = cell switch { Cell.Lstm => 5, Cell.Gru => 4, _ => 1 } * units;
        float scale = 1f / MathF.Sqrt(units);
        float[] xp = Support.Random(batch * steps * g, 1);
        float[] whh = Support.Random(g * units, 2, -scale, scale);
        float[] bhh = Support.Random(g, 3, -scale, scale);
        int outSteps = sequences ? steps : 1;
        float[] dy = Support.Random(batch * outSteps * units, 4);

        (double[] y, double[] dgx, double[] dgh) = Reference(cell, xp, whh, bhh, dy, batch, steps, units, sequences);

        foreach (KernelIsa isa in Support.Isas())
        {
            float[]? oneY = null, oneDgx = null, oneDgh = null;
            foreach (bool threads in new[] { false, true })
            {
                var outY = new float[batch * outSteps * units];
                var states = new float[batch * steps * units];
                var saved = new float[batch * steps * savedWidth];
                var hp = new float[batch * g];
                var dgxOut = new float[batch * steps * g];
                var dghOut = cell == Cell.Gru ? new float[batch * steps * g] : [];
                var dh = new float[batch * units];
                var carry = new float[batch * units];
                Support.With(isa, threads, () =>
                {
                    Run(cell, outY, states, saved, hp, xp, whh, bhh, batch, steps, units, sequences);
                    Backward(cell, dgxOut, dghOut, dh, carry, dy, saved, states, whh, batch, steps, units, sequences);
                });
                string what = $"{cell} b{batch} T{steps} H{units}{(sequences ? " seq" : "")} {isa} {(threads ? "2 cores" : "1 core")}";
                Support.Close(outY, y, default, 1e-5, 1e-5, what + " y");
                Support.Close(dgxOut, dgx, default, 1e-4, 1e-5, what + " dgx");
                if (cell == Cell.Gru) Support.Close(dghOut, dgh, default, 1e-4, 1e-5, what + " dgh");
                if (!threads) { oneY = outY; oneDgx = dgxOut; oneDgh = dghOut; continue; }
                Assert.True(Support.BitEqual(oneY, outY), $"{what}: y differs from one core's");
                Assert.True(Support.BitEqual(oneDgx, dgxOut), $"{what}: dgx differs from one core's");
                Assert.True(Support.BitEqual(oneDgh, dghOut), $"{what}: dgh differs from one core's");
            }
        }
    }

    private static void Run(Cell cell, float[] y, float[] states, float[] saved, float[] hp, float[] xp, float[] whh, float[] bhh,
        int batch, int steps, int units, bool sequences)
    {
        switch (cell)
        {
            case Cell.Lstm: Recurrent.Forward<LstmCell>(y, states, saved, hp, xp, whh, bhh, batch, steps, units, sequences); break;
            case Cell.Gru: Recurrent.Forward<GruCell>(y, states, saved, hp, xp, whh, bhh, batch, steps, units, sequences); break;
            default: Recurrent.Forward<SimpleRnnCell>(y, states, saved, hp, xp, whh, bhh, batch, steps, units, sequences); break;
        }
    }

    private static void Backward(Cell cell, float[] dgx, float[] dgh, float[] dh, float[] carry, float[] dy, float[] saved, float[] states,
        float[] whh, int batch, int steps, int units, bool sequences)
    {
        switch (cell)
        {
            case Cell.Lstm: Recurrent.Backward<LstmCell>(dgx, default, dh, carry, dy, saved, states, whh, batch, steps, units, sequences); break;
            case Cell.Gru: Recurrent.Backward<GruCell>(dgx, dgh, dh, carry, dy, saved, states, whh, batch, steps, units, sequences); break;
            default: Recurrent.Backward<SimpleRnnCell>(dgx, default, dh, carry, dy, saved, states, whh, batch, steps, units, sequences); break;
        }
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>PyTorch's cells in double, step by step: y, and BPTT's gradients at the input projection (dgx) and at
    /// the recurrent one (dgh; equal to dgx but for the GRU's n gate, r ⊙ da_n).</summary>
    private static (double[] Y, double[] Dgx, double[] Dgh) Reference(Cell cell, float[] xp, float[] whh, float[] bhh, float[] dy,
        int batch, int steps, int units, bool sequences)
    {
        int gates = cell switch { Cell.Lstm => 4, Cell.Gru => 3, _ => 1 }, g = gates * units, n = units;
        var y = new double[batch * (sequences ? steps : 1) * units];
        var dgx = new double[batch * steps * g];
        var dgh = new double[batch * steps * g];
        for (int b = 0; b < batch; b++)
        {
            var h = new double[steps + 1, n]; // h[t + 1] = h_t, h[0] = 0
            var c = new double[steps + 1, n];
            var act = new double[steps, g];   // gate activations (GRU: r, z, n)
            var hpn = new double[steps, n];   // GRU: W_hn·h + b_hn
            for (int t = 0; t < steps; t++)
            {
                var pre = new double[g];
                var rec = new double[g];
                for (int j = 0; j < g; j++)
                {
                    double s = bhh[j];
                    for (int k = 0; k < n; k++) s += whh[j * n + k] * h[t, k];
                    rec[j] = s;
                    pre[j] = xp[(b * steps + t) * g + j] + s;
                }
                for (int u = 0; u < n; u++)
                {
                    switch (cell)
                    {
                        case Cell.Lstm:
                        {
                            double i = Sigmoid(pre[u]), f = Sigmoid(pre[n + u]), gg = Math.Tanh(pre[2 * n + u]), o = Sigmoid(pre[3 * n + u]);
                            act[t, u] = i; act[t, n + u] = f; act[t, 2 * n + u] = gg; act[t, 3 * n + u] = o;
                            c[t + 1, u] = f * c[t, u] + i * gg;
                            h[t + 1, u] = o * Math.Tanh(c[t + 1, u]);
                            break;
                        }
                        case Cell.Gru:
                        {
                            double r = Sigmoid(pre[u]), z = Sigmoid(pre[n + u]);
                            double nn = Math.Tanh(xp[(b * steps + t) * g + 2 * n + u] + r * rec[2 * n + u]);
                            act[t, u] = r; act[t, n + u] = z; act[t, 2 * n + u] = nn; hpn[t, u] = rec[2 * n + u];
                            h[t + 1, u] = (1 - z) * nn + z * h[t, u];
                            break;
                        }
                        default:
                            h[t + 1, u] = Math.Tanh(pre[u]);
                            break;
                    }
                }
                if (sequences) for (int u = 0; u < n; u++) y[(b * steps + t) * n + u] = h[t + 1, u];
            }
            if (!sequences) for (int u = 0; u < n; u++) y[b * n + u] = h[steps, u];

            var dhNext = new double[n];   // through W_hh from step t + 1
            var carry = new double[n];    // LSTM: dL/dc; GRU: dL/dh directly
            for (int t = steps - 1; t >= 0; t--)
            {
                var dh = new double[n];
                for (int u = 0; u < n; u++)
                {
                    double fromY = sequences ? dy[(b * steps + t) * n + u] : t == steps - 1 ? dy[b * n + u] : 0;
                    dh[u] = fromY + dhNext[u];
                }
                int row = (b * steps + t) * g;
                for (int u = 0; u < n; u++)
                {
                    switch (cell)
                    {
                        case Cell.Lstm:
                        {
                            double i = act[t, u], f = act[t, n + u], gg = act[t, 2 * n + u], o = act[t, 3 * n + u];
                            double tc = Math.Tanh(c[t + 1, u]);
                            double dc = carry[u] + dh[u] * o * (1 - tc * tc);
                            carry[u] = dc * f;
                            dgx[row + u] = dc * gg * i * (1 - i);
                            dgx[row + n + u] = dc * c[t, u] * f * (1 - f);
                            dgx[row + 2 * n + u] = dc * i * (1 - gg * gg);
                            dgx[row + 3 * n + u] = dh[u] * tc * o * (1 - o);
                            for (int k = 0; k < 4; k++) dgh[row + k * n + u] = dgx[row + k * n + u];
                            break;
                        }
                        case Cell.Gru:
                        {
                            double r = act[t, u], z = act[t, n + u], nn = act[t, 2 * n + u];
                            double d = dh[u] + carry[u];
                            carry[u] = d * z;
                            double dan = d * (1 - z) * (1 - nn * nn);
                            double dar = dan * hpn[t, u] * r * (1 - r);
                            double daz = d * (h[t, u] - nn) * z * (1 - z);
                            dgx[row + u] = dar; dgx[row + n + u] = daz; dgx[row + 2 * n + u] = dan;
                            dgh[row + u] = dar; dgh[row + n + u] = daz; dgh[row + 2 * n + u] = dan * r;
                            break;
                        }
                        default:
                            dgx[row + u] = dh[u] * (1 - h[t + 1, u] * h[t + 1, u]);
                            dgh[row + u] = dgx[row + u];
                            break;
                    }
                }
                for (int k = 0; k < n; k++)
                {
                    double s = 0;
                    for (int j = 0; j < g; j++) s += dgh[row + j] * whh[j * n + k];
                    dhNext[k] = s;
                }
            }
        }
        return (y, dgx, dgh);
    }
}
