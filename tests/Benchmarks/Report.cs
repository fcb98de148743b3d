using System.Globalization;
using System.Text.Json;

namespace Compiled.Benchmarks;

/// <summary>The results as a Markdown table on the console and as JSON.</summary>
internal static class Report
{
    /// <param name="peak">The measured FMA peak in FLOP/s (0: not measured): each workload's throughput is also given
    /// as a fraction of it.</param>
    public static void PrintTable(IReadOnlyList<Result> results, TextWriter output, double peak = 0)
    {
        string[] header = ["workload", "ours µs", "peer µs", "peer/ours", "best ours/peer µs", "rounds", "iters ours/peer", "last loss ours/peer"];
        List<string[]> rows = results.Select(r => new[]
        {
            r.Workload,
            Format(r.OursUs),
            Format(r.PeerUs),
            double.IsNaN(r.Ratio) ? "-" : $"{r.Ratio:0.00}x",
            $"{Format(r.OursBestUs)}/{Format(r.PeerBestUs)}",
            r.Rounds.ToString(CultureInfo.InvariantCulture),
            $"{r.OursIterations}/{r.PeerIterations}",
            float.IsNaN(r.PeerLoss) ? "-" : $"{r.OursLoss:G3}/{r.PeerLoss:G3}",
        }).ToList();
        int[] widths = header.Select((h, i) => rows.Select(row => row[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] cells) =>
            "| " + string.Join(" | ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |";
        output.WriteLine(Line(header));
        output.WriteLine("|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (string[] row in rows) output.WriteLine(Line(row));
        output.WriteLine();
        output.WriteLine("µs = median time per iteration over the rounds (best = fastest round); peer/ours above 1 means Compiled is faster.");
        foreach (Result r in results.Where(r => r.Flops > 0))
            output.WriteLine($"{r.Workload}: ours {Throughput(r.Flops, r.OursUs)}" +
                (peak > 0 ? $" = {100 * PeakFraction(r, peak):0}% of the FMA peak ({Throughput(peak * 1e-6, 1)})" : "") +
                (double.IsNaN(r.PeerUs) ? "" : $", peer {Throughput(r.Flops, r.PeerUs)} (ours at {100 * r.Ratio:0}% of the peer's throughput)") +
                "; medians");
    }

    /// <summary>Writes [{"workload", "ours_us", "peer_us", "ratio"}, …] (ratio = peer / ours), with "flops" (per
    /// iteration), "ours_gflops", "peer_gflops" and "peak_fraction" (ours / the measured FMA peak) where known; peer
    /// values are null without a peer.</summary>
    public static void WriteJson(IReadOnlyList<Result> results, string path, double peak = 0)
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
            Number(writer, "peer_us", r.PeerUs, 3);
            Number(writer, "ratio", r.Ratio, 4);
            if (r.Flops > 0)
            {
                writer.WriteNumber("flops", r.Flops);
                writer.WriteNumber("ours_gflops", Math.Round(r.Flops / (r.OursUs * 1e3), 1));
                Number(writer, "peer_gflops", r.Flops / (r.PeerUs * 1e3), 1);
                if (peak > 0) writer.WriteNumber("peak_fraction", Math.Round(PeakFraction(r, peak), 4));
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter writer, string name, double value, int digits)
    {
        if (double.IsNaN(value)) writer.WriteNull(name);
        else writer.WriteNumber(name, Math.Round(value, digits));
    }

    /// <summary>Our FLOP/s (median) over the measured FMA peak.</summary>
    private static double PeakFraction(Result r, double peak) => r.Flops / (r.OursUs * 1e-6) / peak;

    private static string Throughput(double flops, double us)
    {
        double perSecond = flops / (us * 1e-6);
        return perSecond >= 1e12
            ? (perSecond / 1e12).ToString("0.00", CultureInfo.InvariantCulture) + " TFLOP/s"
            : (perSecond / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GFLOP/s";
    }

    private static string Format(double us) => double.IsNaN(us) ? "-" : us >= 1000 ? us.ToString("#,0", CultureInfo.InvariantCulture) : us.ToString("0.0", CultureInfo.InvariantCulture);
}
