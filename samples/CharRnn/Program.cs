// Trains a character-level language model on tinyshakespeare (char-rnn's corpus and split: the first 90% trains, the
// last 10% validates), reports the validation loss in nats per character after each epoch, then writes text sampled
// from the model, one character at a time, from a prompt. The code below reads every size from the model (IModel), so
// it runs whichever model CharModel is.
//
//   dotnet run -c Release --project samples/CharRnn [-- --epochs 10 --minutes 5 --seed 1 --temperature 0.8
//                                                      --prompt "ROMEO:" --length 400 --batch-size 64 --data FILE]
using System.Diagnostics;
using System.Text;
using Compiled;
using Compiled.Samples;

var options = CharRnnOptions.Parse(args);
CharText text = CharText.Load(options.DataPath);
IModel model = new CharModel(seed: options.Seed);
int steps = model.InputSize, classes = model.OutputSize / model.OutputSteps;
if (model.InputVocabulary != text.VocabularySize || classes != text.VocabularySize)
    throw new InvalidOperationException(
        $"{options.DataPath} has {text.VocabularySize} distinct characters, but the model takes {model.InputVocabulary} ids and predicts " +
        $"{classes} classes: change [Embedding] and the last [Dense] to {text.VocabularySize}.");

Dataset train = text.Windows(text.Train, steps), validation = text.Windows(text.Validation, steps);
Console.WriteLine($"tinyshakespeare: {text.Train.Length:N0} training and {text.Validation.Length:N0} validation characters, " +
    $"{text.VocabularySize} distinct; {train.Count:N0} training windows of {steps} steps");
Console.WriteLine($"Kernels: {Hardware.KernelIsa}");
Console.WriteLine($"Model: {model.Parameters.Length:N0} parameters in " +
    string.Join(", ", model.Tensors.ToArray().Select(t => $"{t.Name} [{string.Join(", ", t.Shape)}]")));
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

    /// <summary>The command line: <c>--epochs N --minutes M --seed N --temperature T --prompt TEXT --length N --batch-size N --data FILE</c>.</summary>
    internal sealed record CharRnnOptions(int Epochs, double Minutes, int Seed, double Temperature, string Prompt, int Length, int BatchSize,
        string DataPath)
    {
        public static CharRnnOptions Parse(string[] args)
        {
            var options = new CharRnnOptions(20, 5, 1, 0.8, "ROMEO:", 400, 64,
                Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare.txt.gz"));
            for (int i = 0; i < args.Length; i++)
            {
                string name = args[i];
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
                int Number() => int.TryParse(Value(), out int n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive whole number.");
                double Positive() => double.TryParse(Value(), System.Globalization.CultureInfo.InvariantCulture, out double d) && d > 0 && double.IsFinite(d)
                    ? d : throw new ArgumentException($"{name} needs a positive number.");
                options = name switch
                {
                    "--epochs" => options with { Epochs = Number() },
                    "--minutes" => options with { Minutes = Positive() },
                    "--seed" => options with { Seed = Number() },
                    "--temperature" => options with { Temperature = Positive() },
                    "--prompt" => options with { Prompt = Value() },
                    "--length" => options with { Length = Number() },
                    "--batch-size" => options with { BatchSize = Number() },
                    "--data" => options with { DataPath = Value() },
                    _ => throw new ArgumentException(
                        $"Unknown option '{name}'. Options: --epochs N, --minutes M, --seed N, --temperature T, --prompt TEXT, --length N, --batch-size N, --data FILE."),
                };
            }
            return options;
        }
    }
}
