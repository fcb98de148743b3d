// Three models of one Dense layer each, compiled at build time like every Compiled model (see obj/*/generated/):
//   linear    linear regression (no activation, mean squared error) on a generated set, against the exact
//             least-squares solution;
//   logistic  logistic regression (one sigmoid unit, binary cross-entropy) on the breast-cancer table;
//   softmax   softmax regression (three softmax units, cross-entropy) on iris.
//
//   dotnet run -c Release --project samples/Regression -- [linear|logistic|softmax|all] [--epochs N] [--seed N] [--data DIR]
using Compiled;
using Compiled.Samples.Regression;

string part = "all";
int? epochs = null;
int seed = 1;
string data = Path.Combine(AppContext.BaseDirectory, "data");
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string name = args[i];
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
        int Number() => int.TryParse(Value(), out int n) && n > 0 ? n : throw new ArgumentException($"{name} needs a positive whole number.");
        switch (name)
        {
            case "linear" or "logistic" or "softmax" or "all": part = name; break;
            case "--epochs": epochs = Number(); break;
            case "--seed": seed = Number(); break;
            case "--data": data = Value(); break;
            default:
                throw new ArgumentException($"Unknown argument '{name}'. Usage: [linear|logistic|softmax|all] [--epochs N] [--seed N] [--data DIR].");
        }
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

try
{
    if (part is "linear" or "all")
    {
        Dataset set = RegressionParts.MakeLinearData(1000, seed);
        var (model, history) = RegressionParts.TrainLinear(set, epochs ?? 400, seed);
        var (weights, bias) = RegressionParts.Coefficients(model);
        Console.WriteLine($"linear:   1,000 samples of y = w·x + b + noise (σ 0.1); {history.Count} full-batch steps, final MSE {history.Last.Loss:F5}");
        Console.WriteLine($"          true    w = [{string.Join(", ", RegressionParts.TrueWeights.Select(w => w.ToString("F4")))}], b = {RegressionParts.TrueBias:F4}");
        Console.WriteLine($"          trained w = [{string.Join(", ", weights.Select(w => w.ToString("F4")))}], b = {bias:F4}");
    }
    if (part is "logistic" or "all")
    {
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
    }
    if (part is "softmax" or "all")
    {
        var (model, r) = RegressionParts.TrainSoftmax(data, epochs ?? 100, seed);
        Console.WriteLine($"softmax:  iris, {r.TrainCount} training / {r.TestCount} held-out rows, features standardised: " +
            $"held-out accuracy {r.Accuracy:P2} (cross-entropy {r.Loss:F4})");
    }
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
return 0;
