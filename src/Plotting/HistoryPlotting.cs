using ScottPlot;

namespace Compiled.Plotting;

/// <summary>
/// Training curves as a PNG, the picture Keras users draw from <c>history.history</c>: loss per epoch on the left,
/// accuracy per epoch on the right, each with its training and validation line.
/// </summary>
public static class HistoryPlotting
{
    /// <summary>
    /// Draws the loss and accuracy of every epoch in <paramref name="history"/> (training and, where the run had
    /// validation data, validation) and writes them to <paramref name="path"/> as a PNG of
    /// <paramref name="width"/> × <paramref name="height"/> pixels. A metric no epoch has (accuracy for a regression,
    /// validation without validation data) is left out; without any accuracy the picture is the loss alone.
    /// </summary>
    /// <param name="history">What <c>Fit</c> returned (a <see cref="History"/>, or any list of epochs).</param>
    /// <param name="path">The PNG file to write; its directory must exist. An existing file is replaced.</param>
    /// <param name="width">Width in pixels (at least 200).</param>
    /// <param name="height">Height in pixels (at least 150).</param>
    /// <exception cref="ArgumentException"><paramref name="history"/> is empty, <paramref name="path"/> is empty, or a size is too small.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void SavePlot(this IReadOnlyList<EpochMetrics> history, string path, int width = 1000, int height = 400)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (history.Count == 0) throw new ArgumentException("The history has no epoch to draw.", nameof(history));
        if (width < 200) throw new ArgumentOutOfRangeException(nameof(width), width, "A plot needs at least 200 pixels of width.");
        if (height < 150) throw new ArgumentOutOfRangeException(nameof(height), height, "A plot needs at least 150 pixels of height.");

        bool hasAccuracy = history.Any(e => double.IsFinite(e.Accuracy) || e.ValidationAccuracy is double v && double.IsFinite(v));
        var multiplot = new Multiplot();
        multiplot.AddPlots(hasAccuracy ? 2 : 1);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();

        // Loss falls and accuracy rises: each legend goes in the corner its curves leave free.
        Draw(multiplot.GetPlot(0), history, "Loss", e => e.Loss, e => e.ValidationLoss ?? double.NaN, Alignment.UpperRight);
        if (hasAccuracy)
            Draw(multiplot.GetPlot(1), history, "Accuracy", e => e.Accuracy, e => e.ValidationAccuracy ?? double.NaN, Alignment.LowerRight);

        string full = System.IO.Path.GetFullPath(path);
        string? directory = System.IO.Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write the plot '{path}': there is no directory '{directory}'.");
        multiplot.SavePng(full, width, height);
    }

    /// <summary>One panel: a metric's training line and its validation line over the epochs.</summary>
    private static void Draw(Plot plot, IReadOnlyList<EpochMetrics> history, string metric,
        Func<EpochMetrics, double> train, Func<EpochMetrics, double> validation, Alignment legend)
    {
        Line(plot, history, train, "train", Colors.C0);
        Line(plot, history, validation, "validation", Colors.C1);
        plot.Title(metric);
        plot.XLabel("epoch");
        plot.YLabel(metric.ToLowerInvariant());
        plot.ShowLegend(legend);
        // Epochs are whole numbers.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
    }

    /// <summary>The finite values of one metric against their epoch numbers (nothing when there are none).</summary>
    private static void Line(Plot plot, IReadOnlyList<EpochMetrics> history, Func<EpochMetrics, double> value, string label, Color color)
    {
        var epochs = new List<double>(history.Count);
        var values = new List<double>(history.Count);
        foreach (EpochMetrics e in history)
        {
            double v = value(e);
            if (!double.IsFinite(v)) continue;
            epochs.Add(e.Epoch);
            values.Add(v);
        }
        if (values.Count == 0) return;
        var scatter = plot.Add.Scatter(epochs.ToArray(), values.ToArray(), color);
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = 6;
    }
}
