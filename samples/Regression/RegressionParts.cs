using Compiled;

namespace Compiled.Samples.Regression;

/// <summary>The sample's three parts, callable from its command line and from the integration tests.</summary>
public static class RegressionParts
{
    /// <summary>Features of the generated linear-regression set.</summary>
    public const int LinearFeatures = 5;

    /// <summary>The weights and bias the generated linear set is drawn from.</summary>
    public static readonly double[] TrueWeights = { 2.0, -3.0, 0.5, 1.5, -0.75 };

    /// <summary>The bias the generated linear set is drawn from.</summary>
    public const double TrueBias = 4.0;

    /// <summary>
    /// <paramref name="count"/> samples of <c>y = w·x + b + noise</c>: features drawn uniformly from [−2, 2] (feature j
    /// scaled by 1 + j/2, so the problem is not perfectly conditioned), Gaussian noise of standard deviation 0.1.
    /// </summary>
    public static Dataset MakeLinearData(int count, int seed)
    {
        var rng = new Rng(seed);
        var x = new float[count * LinearFeatures];
        var y = new float[count];
        for (int i = 0; i < count; i++)
        {
            double target = TrueBias;
            for (int j = 0; j < LinearFeatures; j++)
            {
                float v = (rng.NextFloat() * 4 - 2) * (1 + j / 2f);
                x[i * LinearFeatures + j] = v;
                target += TrueWeights[j] * v;
            }
            // Box–Muller from two uniforms in (0, 1].
            double u1 = 1 - rng.NextFloat(), u2 = rng.NextFloat();
            y[i] = (float)(target + 0.1 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return new Dataset(x, y, LinearFeatures, 1);
    }

    /// <summary>
    /// Fits the linear model by full-batch gradient descent (SGD with Nesterov momentum on the whole set each step): the
    /// mean squared error of a linear model is a convex quadratic, so this converges to the least-squares solution.
    /// </summary>
    public static (LinearModel Model, History History) TrainLinear(Dataset data, int epochs = 400, int seed = 1)
    {
        var model = new LinearModel(seed);
        History history = model.Fit(data, epochs, batchSize: data.Count, optimizer: new Sgd(0.05, momentum: 0.9, nesterov: true),
            shuffle: false, seed: seed);
        return (model, history);
    }

    /// <summary>The trained weight vector and bias of <paramref name="model"/>.</summary>
    public static (float[] Weights, float Bias) Coefficients(LinearModel model)
    {
        TensorInfo weight = model.Tensors[0], bias = model.Tensors[1];
        return (model.Parameters.Slice(weight.Offset, weight.Length).ToArray(), model.Parameters[bias.Offset]);
    }

    /// <summary>What the logistic and softmax parts report.</summary>
    /// <param name="Accuracy">Accuracy on the held-out rows.</param>
    /// <param name="Loss">Mean loss on the held-out rows.</param>
    /// <param name="TrainCount">Training rows.</param>
    /// <param name="TestCount">Held-out rows.</param>
    /// <param name="Scaler">The feature standardisation fitted on the training rows.</param>
    /// <param name="History">What <c>Fit</c> returned: the training loss and accuracy of every epoch.</param>
    public sealed record ClassifierResult(double Accuracy, double Loss, int TrainCount, int TestCount, Standardizer Scaler, History History);

    /// <summary>
    /// Logistic regression on breast_cancer.csv: a seeded 80/20 split, features standardised with the training rows'
    /// mean and standard deviation, Adam (1e-2, batch 32) for <paramref name="epochs"/> epochs; scored on the held-out 20%.
    /// </summary>
    public static (LogisticModel Model, ClassifierResult Result) TrainLogistic(string dataDirectory, int epochs = 30, int seed = 1)
    {
        var (train, test, scaler) = Load(Path.Combine(dataDirectory, "breast_cancer.csv"), seed);
        var model = new LogisticModel(seed);
        History history = model.Fit(train, epochs, batchSize: 32, optimizer: new Adam(1e-2), seed: seed);
        var (loss, accuracy) = model.Evaluate(test);
        return (model, new ClassifierResult(accuracy, loss, train.Count, test.Count, scaler, history));
    }

    /// <summary>Softmax regression on iris.csv, with the same split and standardisation.</summary>
    public static (SoftmaxModel Model, ClassifierResult Result) TrainSoftmax(string dataDirectory, int epochs = 100, int seed = 1)
    {
        var (train, test, scaler) = Load(Path.Combine(dataDirectory, "iris.csv"), seed);
        var model = new SoftmaxModel(seed);
        History history = model.Fit(train, epochs, batchSize: 16, optimizer: new Adam(1e-2), seed: seed);
        var (loss, accuracy) = model.Evaluate(test);
        return (model, new ClassifierResult(accuracy, loss, train.Count, test.Count, scaler, history));
    }

    /// <summary>
    /// A scikit-learn table (first line: row count, feature count, class names; the label last): read, split 80/20 with
    /// <paramref name="seed"/>, and standardised with the training rows' statistics.
    /// </summary>
    public static (Dataset Train, Dataset Test, Standardizer Scaler) Load(string path, int seed)
    {
        CsvTable table = Csv.Read(path, new CsvOptions { SkipLines = 1, HasHeader = false });
        string label = table.ColumnNames[^1];
        var (trainRows, testRows) = table.Split(testFraction: 0.2, seed);
        Dataset train = trainRows.ToDataset(target: label), test = testRows.ToDataset(target: label);
        var scaler = Standardizer.Fit(train);
        return (scaler.Transform(train), scaler.Transform(test), scaler);
    }
}
