using System.Diagnostics;
using Compiled.Runtime.Tests.Checkpoints;
using Xunit;

namespace Compiled.Runtime.Tests.Training;

/// <summary>Iris through ReLU: activations grow with the weights, so a huge learning rate overflows.</summary>
[Input(4)] [Dense(16, Activation.Relu)] [Dense(3, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class IrisRelu;

/// <summary>
/// Divergence is never silent: a non-finite loss, gradient or update stops <c>Fit</c> with a
/// <see cref="TrainingDivergedException"/> naming the epoch, the step and the tensor; hyper-parameters that overflow a
/// float are refused when the optimizer is made.
/// </summary>
public sealed class DivergenceTests(ITestOutputHelper output)
{
    [Fact]
    public void Hyper_parameters_that_overflow_a_float_are_refused_at_construction()
    {
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(1e39)).ParamName);
        Assert.Contains("overflows a float", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(1e39)).Message);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(4e38)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(epsilon: 1e39)).ParamName);
        Assert.Equal("weightDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(weightDecay: 1e300)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(momentum: 1e39)).ParamName);
        Assert.Equal("ClipNorm", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1) { ClipNorm = 1e39 }).ParamName);
        var sgd = new Sgd(0.1);
        Assert.Equal("LearningRate", Assert.Throws<ArgumentOutOfRangeException>(() => sgd.LearningRate = 1e39).ParamName);
        _ = new Sgd(float.MaxValue); // the largest float is allowed

        // A schedule that grows the rate past a float is refused at the epoch that would use it.
        var growing = new Sgd(1e37) { Schedule = new ExponentialDecay(100) };
        growing.BeginEpoch(0);
        var ex = Assert.Throws<InvalidOperationException>(() => growing.BeginEpoch(2));
        output.WriteLine(ex.Message);
        Assert.Contains("epoch 2", ex.Message);
    }

    [Fact]
    public void A_learning_rate_of_1e6_stops_Fit_naming_the_epoch_step_and_tensor()
    {
        var model = new IrisRelu(seed: 1);
        var ex = Assert.Throws<TrainingDivergedException>(() => model.Fit(IrisData.Train, epochs: 50, batchSize: 8,
            optimizer: new Sgd(1e6), cancellationToken: TestContext.Current.CancellationToken));
        output.WriteLine(ex.Message);
        Assert.IsAssignableFrom<InvalidOperationException>(ex);
        Assert.InRange(ex.Epoch, 1, 50);
        Assert.InRange(ex.Step, 1, 15);
        Assert.Contains($"epoch {ex.Epoch}, step {ex.Step}", ex.Message);
        if (ex.Tensor is not null) Assert.Contains(ex.Tensor, ex.Message);
        if (ex.ParametersRestored)
            Assert.Equal(-1, IndexOfNonFinite(model.Parameters));
        else
            Assert.Contains("not restored", ex.Message);
    }

    [Fact]
    public void A_NaN_in_the_forward_pass_stops_at_its_step_and_keeps_the_last_finite_state()
    {
        // Sample 20 is huge but finite, so the data check passes; its forward pass overflows to NaN. Unshuffled batches of
        // 8: it is in the third batch.
        float[] x = IrisData.Train.Features.ToArray(), y = IrisData.Train.Targets.ToArray();
        for (int f = 0; f < 4; f++) x[20 * 4 + f] = 3e38f;
        var model = new IrisRelu(seed: 2);
        var adam = new Adam(1e-2);
        var ex = Assert.Throws<TrainingDivergedException>(() => model.Fit(new Dataset(x, y, 4, 1), epochs: 3, batchSize: 8,
            optimizer: adam, shuffle: false, cancellationToken: TestContext.Current.CancellationToken));
        output.WriteLine(ex.Message);
        Assert.Equal(1, ex.Epoch);
        Assert.Equal(3, ex.Step);
        Assert.Equal(3, ex.GlobalStep);
        Assert.True(ex.ParametersRestored);
        Assert.Equal(2, adam.Steps); // the bad step reached neither the optimizer ...
        Assert.NotNull(ex.Tensor);
        Assert.StartsWith("layers.", ex.Tensor);
        Assert.Contains(ex.Tensor!, ex.Message);

        // ... nor the parameters: they are those after the two finite steps, bit for bit.
        var twin = new IrisRelu(seed: 2);
        twin.Fit(new Dataset(x.AsSpan(0, 16 * 4).ToArray(), y.AsSpan(0, 16).ToArray(), 4, 1), epochs: 1, batchSize: 8,
            optimizer: new Adam(1e-2), shuffle: false, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(SafetensorsFiles.Bits(twin.Parameters), SafetensorsFiles.Bits(model.Parameters));
    }

    [Fact]
    public void A_NaN_written_by_an_update_stops_at_that_step_and_names_the_tensor()
    {
        var model = new IrisRelu(seed: 3);
        var ex = Assert.Throws<TrainingDivergedException>(() => model.Fit(IrisData.Train, epochs: 2, batchSize: 8,
            optimizer: new PoisoningSgd(0.05, poisonAtStep: 20, index: 85), cancellationToken: TestContext.Current.CancellationToken));
        output.WriteLine(ex.Message);
        // 120 samples in batches of 8: 15 steps an epoch, so step 20 is epoch 2, step 5.
        Assert.Equal(2, ex.Epoch);
        Assert.Equal(5, ex.Step);
        Assert.Equal(20, ex.GlobalStep);
        Assert.False(ex.ParametersRestored);
        Assert.Equal("layers.1.weight", ex.Tensor); // after [16, 4] weights (64) and 16 biases: layers.1.weight[0, 5]
        Assert.Contains("not restored", ex.Message);
    }

    [Fact]
    public void The_divergence_check_costs_little_per_step()
    {
        // One vectorised scan of the gradient arena and one of the parameters per step, against a whole step of the
        // samples' MNIST MLP (101,770 parameters, batch 32). Rough: this machine is shared and loaded.
        var model = new CheckpointMlp(seed: 1);
        var x = new float[32 * 784];
        var y = new float[32];
        for (int i = 0; i < x.Length; i++) x[i] = (i * 7919 % 1000) / 1000f;
        for (int i = 0; i < y.Length; i++) y[i] = i % 10;
        var adam = new Adam();
        for (int i = 0; i < 20; i++)
        {
            model.ComputeGradients(x, y, default, 32);
            adam.Step(model.Parameters, model.Gradients);
        }
        const int Steps = 100, Scans = 2000;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Steps; i++)
        {
            model.ComputeGradients(x, y, default, 32);
            adam.Step(model.Parameters, model.Gradients);
        }
        double step = clock.Elapsed.TotalMicroseconds / Steps;
        int found = 0;
        clock.Restart();
        for (int i = 0; i < Scans; i++) found += FloatChecks.IndexOfNonFinite(model.Gradients) + FloatChecks.IndexOfNonFinite(model.Parameters);
        double check = clock.Elapsed.TotalMicroseconds / Scans;
        output.WriteLine($"CheckpointMlp, batch 32: a step {step:F0} µs; the divergence check (gradients + parameters, " +
            $"2 x {model.Parameters.Length:N0} floats) {check:F1} µs = {100 * check / step:F1}% of a step");
        Assert.Equal(-2 * Scans, found);
        Assert.True(check < step, $"the check ({check:F1} µs) costs more than a step ({step:F0} µs)");
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>SGD that writes a NaN into one parameter on one step, as a buggy or overflowing update would.</summary>
    private sealed class PoisoningSgd(double learningRate, int poisonAtStep, int index) : Optimizer(learningRate)
    {
        protected override void AllocateState(int length)
        {
        }

        protected override void ReleaseState()
        {
        }

        protected override void Update(Span<float> parameters, ReadOnlySpan<float> gradients, float learningRate)
        {
            for (int i = 0; i < parameters.Length; i++) parameters[i] -= learningRate * gradients[i];
            if (Steps == poisonAtStep) parameters[index] = float.NaN;
        }
    }
}
