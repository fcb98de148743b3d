namespace Compiled.Integration.Tests;

/// <summary>A tanh RNN over 100 steps of (value, mark) with a linear read-out: the marked-sum ("adding") problem.</summary>
[Input(100, 2)]
[SimpleRnn(16)]
[Dense(1)]
[Loss(Loss.MeanSquaredError)]
public partial class MarkedSumRnn;

/// <summary>The same with an LSTM.</summary>
[Input(100, 2)]
[Lstm(16)]
[Dense(1)]
[Loss(Loss.MeanSquaredError)]
public partial class MarkedSumLstm;

/// <summary>
/// Gradient clipping (<see cref="Optimizer.ClipNorm"/>, PyTorch's <c>clip_grad_norm_</c>) against exploding gradients:
/// the same seeded runs of plain SGD at a high learning rate, once without clipping and once with <c>ClipNorm = 1</c>.
/// Without it most runs blow up (a <see cref="TrainingDivergedException"/> or a loss 100 times the initial one); with
/// it every run stays finite and its loss falls. The optimizer's pre-clip norm (<see cref="Optimizer.LastGradientNorm"/>)
/// is read after every step of the clipped runs, to show how often clipping cut a step and how large the cut was.
/// </summary>
/// <remarks>
/// The data: 512 sequences of 100 steps, each step a value U(0, 1) and a mark (0 or 1); two steps are marked, one of
/// steps 96–97 and one of 98–99, and the target is the sum of the two marked values. The marks sit near the end so a
/// few seconds of SGD can learn the task; the backward pass still runs through all 100 steps, which is where the
/// gradients explode. Predicting the mean target, the best a model that ignores the marks can do, scores the targets'
/// variance (about 0.164), printed as the baseline.
/// </remarks>
public class GradientClippingTests
{
    private const int Steps = 100, Samples = 512, Epochs = 10, Batch = 32;
    private static readonly int[] Seeds = [0, 1, 2, 3];

    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static Dataset MarkedSum()
    {
        var rng = new Rng(1234);
        var x = new float[Samples * Steps * 2];
        var y = new float[Samples];
        for (int s = 0; s < Samples; s++)
        {
            int a = Steps - 4 + rng.NextInt(2), b = Steps - 2 + rng.NextInt(2);
            for (int t = 0; t < Steps; t++) x[(s * Steps + t) * 2] = rng.NextFloat();
            x[(s * Steps + a) * 2 + 1] = 1;
            x[(s * Steps + b) * 2 + 1] = 1;
            y[s] = x[(s * Steps + a) * 2] + x[(s * Steps + b) * 2];
        }
        return new Dataset(x, y, Steps * 2, 1);
    }

    private static double Variance(ReadOnlySpan<float> values)
    {
        double mean = 0, sum = 0;
        foreach (float v in values) mean += v;
        mean /= values.Length;
        foreach (float v in values) sum += (v - mean) * (v - mean);
        return sum / values.Length;
    }

    /// <summary>Multiplies every <c>weight_hh</c> tensor by <paramref name="scale"/> (1 leaves PyTorch's initialisation).</summary>
    private static void ScaleRecurrentWeights(IModel model, float scale)
    {
        foreach (TensorInfo tensor in model.Tensors)
            if (tensor.Name.EndsWith("weight_hh_l0", StringComparison.Ordinal))
                foreach (ref float w in model.Parameters.Slice(tensor.Offset, tensor.Length)) w *= scale;
    }

    /// <summary>
    /// After every step (Fit reports each of the 16 batches of an epoch): the gradient's global L2 norm before clipping
    /// (the optimizer's <see cref="Optimizer.LastGradientNorm"/> when clipping is on, else the norm of the gradient arena,
    /// which the step left as it was), and at the first step whose norm passes 100 the norm of the recurrent weights'
    /// gradient <c>weight_hh_l0</c> as a fraction of it: where the explosion starts.
    /// </summary>
    private sealed class NormRecorder(IModel model, Optimizer optimizer) : IProgress<TrainingProgress>
    {
        public List<double> Norms { get; } = [];
        public string? FirstSpike { get; private set; }
        public double FirstSpikeRecurrentShare { get; private set; } = double.NaN;

        public void Report(TrainingProgress value)
        {
            double total = Norm(model.Gradients), recurrent = 0;
            foreach (TensorInfo tensor in model.Tensors)
                if (tensor.Name.EndsWith("weight_hh_l0", StringComparison.Ordinal))
                    recurrent = Norm(model.Gradients.Slice(tensor.Offset, tensor.Length));
            double norm = optimizer.ClipNorm > 0 ? optimizer.LastGradientNorm : total;
            Norms.Add(norm);
            if (FirstSpike is not null || !(norm > 100)) return;
            FirstSpikeRecurrentShare = recurrent / total;
            FirstSpike = $"first step above 100: step {Norms.Count}, norm {norm:G3}, weight_hh_l0's gradient {recurrent / total:P0} of it";
        }

        private static double Norm(ReadOnlySpan<float> values)
        {
            double sum = 0;
            foreach (float v in values) sum += (double)v * v;
            return Math.Sqrt(sum);
        }
    }

    private sealed record Run(double Initial, double[] Losses, string? Diverged, List<double> Norms, string? FirstSpike, double FirstSpikeRecurrentShare)
    {
        /// <summary>Diverged, or an epoch's loss 100 times the loss before training.</summary>
        public bool BlewUp => Diverged is not null || Losses.Any(l => !(l < 100 * Initial));

        public override string ToString() =>
            $"initial {Initial:G4}, epochs: {string.Join(" ", Losses.Select(l => l.ToString("G4")))}" +
            (Diverged is null ? "" : $" then {Diverged}") +
            (Norms.Count == 0 ? "" : $"; gradient norm (before clipping) median {Median(Norms):G3}, max {Norms.Max():G3}, " +
                                      $"{Norms.Count(n => n > 1)} of {Norms.Count} steps above 1") +
            (FirstSpike is null ? "" : $"; {FirstSpike}");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static Run Train(IModel model, float recurrentScale, double learningRate, double clipNorm, Dataset data)
    {
        ScaleRecurrentWeights(model, recurrentScale);
        double initial = model.Evaluate(data).Loss;
        var optimizer = new Sgd(learningRate) { ClipNorm = clipNorm };
        var recorder = new NormRecorder(model, optimizer);
        try
        {
            History history = model.Fit(data, Epochs, Batch, optimizer, progress: recorder, seed: 1);
            return new Run(initial, history.Select(e => e.Loss).ToArray(), null, recorder.Norms, recorder.FirstSpike, recorder.FirstSpikeRecurrentShare);
        }
        catch (TrainingDivergedException e)
        {
            // The epochs before the one that diverged are not returned by Fit; the exception says where it stopped.
            return new Run(initial, [], $"TrainingDivergedException in epoch {e.Epoch}, step {e.Step} (loss {e.Loss})",
                recorder.Norms, recorder.FirstSpike, recorder.FirstSpikeRecurrentShare);
        }
    }

    private static (Run[] Plain, Run[] Clipped) Compare(Func<int, IModel> create, float recurrentScale, double learningRate)
    {
        Dataset data = MarkedSum();
        Output?.WriteLine($"baseline (predict the mean target): {Variance(data.Targets):G4}");
        var plain = new Run[Seeds.Length];
        var clipped = new Run[Seeds.Length];
        for (int i = 0; i < Seeds.Length; i++)
        {
            plain[i] = Train(create(Seeds[i]), recurrentScale, learningRate, clipNorm: 0, data);
            clipped[i] = Train(create(Seeds[i]), recurrentScale, learningRate, clipNorm: 1, data);
            Output?.WriteLine($"seed {Seeds[i]}, SGD {learningRate}, no clipping: {plain[i]}");
            Output?.WriteLine($"seed {Seeds[i]}, SGD {learningRate}, ClipNorm 1:   {clipped[i]}");
        }
        return (plain, clipped);
    }

    private static void AssertClippedRunsTrain(Run[] clipped)
    {
        foreach (Run run in clipped)
        {
            Assert.Null(run.Diverged);
            Assert.Equal(Epochs, run.Losses.Length);
            Assert.All(run.Losses, l => Assert.True(double.IsFinite(l), run.ToString()));
            // The loss falls: the last epoch well below the loss before training and below the first epoch.
            Assert.True(run.Losses[^1] < 0.5 * run.Initial && run.Losses[^1] < run.Losses[0], run.ToString());
            // Clipping took part: some steps' gradients were above the limit of 1 and were scaled down.
            Assert.True(run.Norms.Max() > 1, run.ToString());
        }
    }

    /// <summary>
    /// The tanh RNN at PyTorch's initialisation, SGD 0.2: three of four seeds explode without clipping, and the explosion
    /// starts in the recurrent weights (most of the first large gradient is <c>weight_hh_l0</c>'s); with
    /// <c>ClipNorm = 1</c> all four train, and beat the constant prediction (they learn the marked sum).
    /// </summary>
    [Fact]
    public void SimpleRnnExplodesWithoutClippingAndTrainsWithIt()
    {
        (Run[] plain, Run[] clipped) = Compare(seed => new MarkedSumRnn(seed), recurrentScale: 1, learningRate: 0.2);
        Assert.True(plain.Count(r => r.BlewUp) >= 3, "fewer than 3 of 4 unclipped runs blew up");
        Assert.All(plain.Where(r => r.BlewUp), r => Assert.True(r.FirstSpikeRecurrentShare > 0.5, r.ToString()));
        AssertClippedRunsTrain(clipped);
        double baseline = Variance(MarkedSum().Targets);
        Assert.All(clipped, r => Assert.True(r.Losses[^1] < baseline, $"{r} is not below the baseline {baseline:G4}"));
    }

    /// <summary>
    /// The LSTM with its recurrent weights initialised 8 times PyTorch's range (U(±2) for 16 units), SGD 0.5: every seed
    /// blows up without clipping; with <c>ClipNorm = 1</c> all four stay finite and their loss falls (to about the
    /// constant prediction's in 10 epochs). At PyTorch's own initialisation the LSTM did not explode in this task (see
    /// the README), so the large initialisation is what makes the gradients explode here.
    /// </summary>
    [Fact]
    public void LstmWithLargeRecurrentWeightsExplodesWithoutClippingAndTrainsWithIt()
    {
        (Run[] plain, Run[] clipped) = Compare(seed => new MarkedSumLstm(seed), recurrentScale: 8, learningRate: 0.5);
        Assert.True(plain.All(r => r.BlewUp), "an unclipped run did not blow up");
        AssertClippedRunsTrain(clipped);
    }
}
