// Trains a character-level language model on tinyshakespeare (char-rnn's corpus and split: the first 90% trains, the
// last 10% validates), reports the validation loss in nats per character after each epoch, then writes text sampled
// from the model, one character at a time, from a prompt. The code below reads every size from the model (IModel), so
// it runs whichever model CharModel is.
//
//   dotnet run -c Release --project samples/CharRnn [-- --epochs 20 --minutes 5 --seed 1 --temperature 0.8
//                                                      --prompt "ROMEO:" --length 400 --batch-size 64 --data FILE
//                                                      --limit N --plot history.png]   (--help lists the options)
using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Compiled;
using Compiled.Samples;

var epochs = SampleCli.Positive("--epochs", 20, "Passes over the training text (the time budget may end the run earlier).");
var minutes = SampleCli.PositiveNumber("--minutes", 5, "Time budget of the training, in minutes (a fraction is fine); the run stops between batches when it is spent.");
var seed = SampleCli.Positive("--seed", 1, "Seed of the initial weights, of the shuffling and of the sampling.");
var temperature = SampleCli.PositiveNumber("--temperature", 0.8, "Sampling temperature: below 1 sharpens the predicted distribution, above 1 flattens it.");
var prompt = new Option<string>("--prompt") { Description = "The text the sample starts from (every character must occur in the corpus).", DefaultValueFactory = _ => "ROMEO:", HelpName = "TEXT" };
var length = SampleCli.Positive("--length", 400, "Characters to generate after the prompt.");
var batchSize = SampleCli.Positive("--batch-size", 64, "Windows per training step.");
var data = SampleCli.ExistingFile("--data", Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare.txt.gz"),
    "The corpus: a UTF-8 text file, gzip-compressed or not; the sample ships tinyshakespeare.");
var limit = SampleCli.OptionalPositive("--limit",
    "Use only the first N characters of the training text and the first N/9 (at least one window) of the validation text, for a quick run.");
var plot = new HistoryPlot();
var command = new RootCommand("Trains a character-level LSTM on tinyshakespeare with Compiled, reports the validation loss per character, " +
    "then generates text from a prompt.") { epochs, minutes, seed, temperature, prompt, length, batchSize, data, limit };
plot.AddTo(command);
command.SetAction(parsed => Train(new CharRnnOptions(parsed.GetValue(epochs), parsed.GetValue(minutes), parsed.GetValue(seed),
    parsed.GetValue(temperature), parsed.GetRequiredValue(prompt), parsed.GetValue(length), parsed.GetValue(batchSize),
    parsed.GetRequiredValue(data), parsed.GetValue(limit), plot.PathOf(parsed))));
return SampleCli.Run(command, args);

static int Train(CharRnnOptions options)
{
    CharText text = CharText.Load(options.DataPath);
    IModel model = new CharModel(seed: options.Seed);
    int steps = model.InputSize, classes = model.OutputSize / model.OutputSteps;
    if (model.InputVocabulary != text.VocabularySize || classes != text.VocabularySize)
        throw new InvalidDataException(
            $"{options.DataPath} has {text.VocabularySize} distinct characters, but the model takes {model.InputVocabulary} ids and predicts " +
            $"{classes} classes: change [Embedding] and the last [Dense] to {text.VocabularySize}.");
    text.Encode(options.Prompt); // a prompt character outside the corpus stops the run now, not after the training

    string trainText = text.Train, validationText = text.Validation;
    if (options.Limit is int n)
    {
        trainText = trainText[..Math.Min(trainText.Length, Math.Max(n, steps + 1))];
        validationText = validationText[..Math.Min(validationText.Length, Math.Max(n / 9, steps + 1))];
    }
    Dataset train = text.Windows(trainText, steps), validation = text.Windows(validationText, steps);
    Console.WriteLine($"tinyshakespeare: {trainText.Length:N0} training and {validationText.Length:N0} validation characters, " +
        $"{text.VocabularySize} distinct; {train.Count:N0} training windows of {steps} steps");
    Console.WriteLine($"Kernels: {Hardware.KernelIsa}");
    Console.WriteLine($"Model: {model.Parameters.Length:N0} parameters in " +
        string.Join(", ", model.Tensors.ToArray().Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]")));
    Console.Write(model.Summary());
    Console.WriteLine($"Before training: validation loss {model.Evaluate(validation).Loss:F3} nats/char " +
        $"(a uniform guess is ln {classes} = {Math.Log(classes):F3})");

    // Adam; the time budget ends the run early (between batches), keeping the weights it has.
    using var budget = new CancellationTokenSource(TimeSpan.FromMinutes(options.Minutes));
    var clock = Stopwatch.StartNew();
    History history = model.Fit(train, epochs: options.Epochs, batchSize: options.BatchSize, optimizer: new Adam(2e-3),
        validation: validation, progress: new EpochReport(clock), seed: options.Seed, cancellationToken: budget.Token);

    double nats = model.Evaluate(validation).Loss;
    Console.WriteLine($"Validation loss: {nats:F3} nats/char ({nats / Math.Log(2):F3} bits/char) after {history.Count} epoch" +
        $"{(history.Count == 1 ? "" : "s")}{(history.Cancelled ? " (the last one cut short by --minutes)" : "")}, {clock.Elapsed.TotalSeconds:F0} s");

    Console.WriteLine($"Sample (temperature {options.Temperature}):");
    Console.WriteLine(options.Prompt + Generate(model, text, options.Prompt, options.Length, options.Temperature, options.Seed));
    HistoryPlot.Write(history, options.PlotPath);
    return 0;
}

// Generates `length` characters after `prompt`: each step runs the model on the last T characters (or on all of them,
// at the start of a window, while there are fewer) and draws the next character from the prediction at the last one,
// with the probabilities sharpened (temperature < 1) or flattened (> 1) as p^(1/temperature).
static string Generate(IModel model, CharText text, string prompt, int length, double temperature, int seed)
{
    int steps = model.InputSize, classes = model.OutputSize / model.OutputSteps;
    var context = new List<float>(text.Encode(prompt.Length > 0 ? prompt : "\n"));
    var input = new float[steps];
    var output = new float[model.OutputSize];
    var weights = new double[classes];
    var rng = new Rng(seed);
    var generated = new StringBuilder(length);
    for (int k = 0; k < length; k++)
    {
        int n = Math.Min(context.Count, steps);
        Array.Clear(input); // past position n − 1 the ids are placeholders: the model's step n − 1 does not read them
        context.CopyTo(context.Count - n, input, 0, n);
        model.Forward(input, output, 1);
        ReadOnlySpan<float> p = output.AsSpan((n - 1) * classes, classes);
        double total = 0;
        for (int c = 0; c < classes; c++) total += weights[c] = Math.Pow(Math.Max(p[c], 1e-30), 1 / temperature);
        double draw = rng.NextFloat() * total;
        int next = classes - 1;
        for (int c = 0; c < classes; c++)
        {
            draw -= weights[c];
            if (draw < 0) { next = c; break; }
        }
        context.Add(next);
        generated.Append(text.Vocabulary[next]);
    }
    return generated.ToString();
}

/// <summary>
/// The character model: T = 64 token ids in, a distribution over the 65 characters of tinyshakespeare out at every
/// step, trained on the next character at every step: an embedding of each character, an LSTM over the 64 steps
/// (every step's hidden state), and a softmax over the vocabulary at every step.
/// </summary>
[Input(64)]
[Embedding(65, 64)]
[Lstm(128, ReturnSequences = true)]
[Dense(65, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class CharModel;

namespace Compiled.Samples
{
    /// <summary>Prints one line per epoch: the training and validation loss in nats per character.</summary>
    internal sealed class EpochReport(Stopwatch clock) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.IsEpochEnd || value.ValidationLoss is not double validation) return;
            Console.WriteLine($"epoch {value.Epoch}/{value.Epochs}: training loss {value.Loss:F3}, validation loss {validation:F3} nats/char " +
                $"({validation / Math.Log(2):F3} bits/char), accuracy {value.ValidationAccuracy:P1}, {clock.Elapsed.TotalSeconds:F0} s");
        }
    }

    /// <summary>The options of a run (the command line, parsed and validated by System.CommandLine).</summary>
    internal sealed record CharRnnOptions(int Epochs, double Minutes, int Seed, double Temperature, string Prompt, int Length, int BatchSize,
        string DataPath, int? Limit, string? PlotPath);
}
