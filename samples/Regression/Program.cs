// Three models of one Dense layer each, compiled at build time like every Compiled model (see obj/*/generated/):
//   linear    linear regression (no activation, mean squared error) on a generated set, against the exact
//             least-squares solution;
//   logistic  logistic regression (one sigmoid unit, binary cross-entropy) on the breast-cancer table;
//   softmax   softmax regression (three softmax units, cross-entropy) on iris.
//
//   dotnet run -c Release --project samples/Regression -- [linear|logistic|softmax|all] [--epochs N] [--seed N] [--data DIR]
//                                                         [--plot history.png | --no-plot]   (--help lists the options)
// Each part prints its model's summary, trains, and draws its loss (and accuracy) per epoch into history-<part>.png.
using System.CommandLine;
using Compiled;
using Compiled.Samples;
using Compiled.Samples.Regression;

var part = new Argument<string>("part")
{
    Description = "Which model to train: linear, logistic, softmax, or all three.",
    DefaultValueFactory = _ => "all",
};
part.AcceptOnlyFromAmong("linear", "logistic", "softmax", "all");
var epochs = SampleCli.OptionalPositive("--epochs", "Epochs of each part (default: linear 400 full-batch steps, logistic 30, softmax 100).");
var seed = SampleCli.Positive("--seed", 1, "Seed of the generated set, of the splits, of the initial weights and of the shuffling.");
var data = SampleCli.ExistingDirectory("--data", Path.Combine(AppContext.BaseDirectory, "data"),
    "The directory with breast_cancer.csv and iris.csv; the sample ships them.");
var plot = new HistoryPlot();
plot.Path.Description = "Write each part's loss (and accuracy) per epoch to a PNG named after this path and the part: " +
    "history.png gives history-linear.png, history-logistic.png, history-softmax.png.";
var command = new RootCommand("Trains three one-layer models with Compiled: linear regression on a generated set, logistic regression on " +
    "the breast-cancer table, softmax regression on iris.") { part, epochs, seed, data };
plot.AddTo(command);
command.SetAction(parsed => Run(parsed.GetRequiredValue(part), parsed.GetValue(epochs), parsed.GetValue(seed), parsed.GetRequiredValue(data),
    plot.PathOf(parsed)));
return SampleCli.Run(command, args);

static int Run(string part, int? epochs, int seed, string data, string? plotPath)
{
    if (part is "linear" or "all")
    {
        Console.Write(new LinearModel(seed).Summary());
        Dataset set = RegressionParts.MakeLinearData(1000, seed);
        var (model, history) = RegressionParts.TrainLinear(set, epochs ?? 400, seed);
        var (weights, bias) = RegressionParts.Coefficients(model);
        Console.WriteLine($"linear:   1,000 samples of y = w·x + b + noise (σ 0.1); {history.Count} full-batch steps, final MSE {history.Last.Loss:F5}");
        Console.WriteLine($"          true    w = [{string.Join(", ", RegressionParts.TrueWeights.Select(w => w.ToString("F4")))}], b = {RegressionParts.TrueBias:F4}");
        Console.WriteLine($"          trained w = [{string.Join(", ", weights.Select(w => w.ToString("F4")))}], b = {bias:F4}");
        HistoryPlot.Write(history, PlotOf(plotPath, "linear"));
    }
    if (part is "logistic" or "all")
    {
        Console.Write(new LogisticModel(seed).Summary());
        var (model, r) = RegressionParts.TrainLogistic(data, epochs ?? 30, seed);
        Console.WriteLine($"logistic: breast cancer, {r.TrainCount} training / {r.TestCount} held-out rows, features standardised: " +
            $"held-out accuracy {r.Accuracy:P2} (BCE {r.Loss:F4})");

        // What a prediction needs later: the model and the training rows' standardisation, both saved.
        model.Save("breast_cancer.safetensors");
        r.Scaler.Save("breast_cancer.scaler.csv");
        CsvTable table = Csv.Read(Path.Combine(data, "breast_cancer.csv"), new CsvOptions { SkipLines = 1, HasHeader = false });
        float[] patient = Enumerable.Range(0, 30).Select(c => (float)table[0, c]).ToArray(); // the file's first row, raw
        Standardizer.Load("breast_cancer.scaler.csv").Transform(patient);
        int predicted = LogisticModel.Load("breast_cancer.safetensors").PredictClass(patient);
        Console.WriteLine($"          saved breast_cancer.safetensors and breast_cancer.scaler.csv; reloaded, the file's first row is " +
            $"predicted {(predicted == 0 ? "malignant" : "benign")} (labelled {(table[0, 30] == 0 ? "malignant" : "benign")})");
        HistoryPlot.Write(r.History, PlotOf(plotPath, "logistic"));
    }
    if (part is "softmax" or "all")
    {
        Console.Write(new SoftmaxModel(seed).Summary());
        var (model, r) = RegressionParts.TrainSoftmax(data, epochs ?? 100, seed);
        Console.WriteLine($"softmax:  iris, {r.TrainCount} training / {r.TestCount} held-out rows, features standardised: " +
            $"held-out accuracy {r.Accuracy:P2} (cross-entropy {r.Loss:F4})");
        HistoryPlot.Write(r.History, PlotOf(plotPath, "softmax"));
    }
    return 0;
}

// history.png → history-linear.png (null stays null: --no-plot).
static string? PlotOf(string? path, string part) =>
    path is null ? null : Path.Combine(Path.GetDirectoryName(path) ?? "", $"{Path.GetFileNameWithoutExtension(path)}-{part}{Path.GetExtension(path)}");
