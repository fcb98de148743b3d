namespace Compiled.Samples;

/// <summary>
/// Draws training progress as a bar on one console line, redrawn in place; when the output is redirected
/// (a log, CI) it prints one line per epoch instead.
/// </summary>
internal sealed class ConsoleProgressBar : IProgress<TrainingProgress>
{
    private const int Width = 30;
    private readonly bool _interactive = !Console.IsOutputRedirected;

    public void Report(TrainingProgress p)
    {
        bool epochDone = p.Batch == p.Batches;
        if (!_interactive && !epochDone) return;
        int filled = (int)((long)Width * p.Batch / p.Batches);
        string bar = new string('█', filled) + new string('░', Width - filled);
        string line = $"Epoch {p.Epoch}/{p.Epochs} {bar} {p.Batch,5}/{p.Batches}  loss {p.Loss:F4}  accuracy {p.Accuracy:P2}";
        if (p.ValidationAccuracy is double validation) line += $"  val_accuracy {validation:P2}";
        if (_interactive)
        {
            Console.Write("\r" + line);
            if (epochDone) Console.WriteLine();
        }
        else
        {
            Console.WriteLine(line);
        }
    }
}
