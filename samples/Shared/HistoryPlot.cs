using System.CommandLine;

namespace Compiled.Samples;

/// <summary>
/// <c>--plot PATH</c> (default history.png) and <c>--no-plot</c>: the loss and accuracy curves of a run, drawn by
/// Compiled.Plotting (ScottPlot). A NativeAOT publish of a sample leaves plotting out (see Samples.props) and says so.
/// </summary>
internal sealed class HistoryPlot
{
    /// <summary>Where to write the PNG.</summary>
    public Option<string> Path { get; } = new("--plot")
    {
        Description = "Write the loss and accuracy curves per epoch (train and validation) to this PNG file.",
        DefaultValueFactory = _ => "history.png",
        HelpName = "PATH",
    };

    /// <summary>Write no plot.</summary>
    public Option<bool> Off { get; } = new("--no-plot") { Description = "Write no plot." };

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Path);
        command.Options.Add(Off);
    }

    /// <summary>The plot's path, or null with <c>--no-plot</c>.</summary>
    public string? PathOf(ParseResult parsed) => parsed.GetValue(Off) ? null : parsed.GetValue(Path);

    /// <summary>
    /// Draws <paramref name="history"/> into <paramref name="path"/> (nothing when it is null, or when no epoch
    /// finished), saying so on <paramref name="log"/> (standard output by default).
    /// </summary>
    public static void Write(IReadOnlyList<EpochMetrics> history, string? path, TextWriter? log = null)
    {
        if (path is null) return;
        log ??= Console.Out;
        if (history.Count == 0)
        {
            log.WriteLine($"No plot written to {path}: no epoch finished.");
            return;
        }
#if COMPILED_PLOT
        Compiled.Plotting.HistoryPlotting.SavePlot(history, path);
        bool accuracy = history.Any(e => double.IsFinite(e.Accuracy) || e.ValidationAccuracy is double v && double.IsFinite(v));
        log.WriteLine($"Wrote {path}: loss{(accuracy ? " and accuracy" : "")} per epoch");
#else
        log.WriteLine($"No plot written to {path}: this build (NativeAOT) leaves Compiled.Plotting out; run the sample with 'dotnet run' for one.");
#endif
    }
}
