using Xunit;

namespace Compiled.Runtime.Tests.Optimizers;

public class OptimizerTests
{
    [Theory]
    [InlineData("Clip1")]
    [InlineData("Clip100")]
    public void ClippingMatchesClipGradNorm(string name)
    {
        (double norm, float[] expected) = TorchReference.Clip(name);
        double maxNorm = name == "Clip1" ? 1.0 : 100.0;
        float[] p = OptimizerReferenceTests.Initial();
        var g = new float[p.Length];
        OptimizerReferenceTests.Gradient(p, 0, g);
        var untouched = new float[p.Length];
        // lr 0: the step changes nothing but the (clipped) gradients.
        var optimizer = new Sgd(0) { ClipNorm = maxNorm };
        optimizer.Step(untouched, g);

        double maxError = 0;
        for (int i = 0; i < g.Length; i++) maxError = Math.Max(maxError, Math.Abs(g[i] - (double)expected[i]));
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: norm {optimizer.LastGradientNorm} vs torch {norm}; max |Δg| = {maxError:E2}");
        Assert.Equal(norm, optimizer.LastGradientNorm, 1e-5);
        Assert.True(maxError < 1e-6, $"max gradient error {maxError:E2}");
        Assert.All(untouched, x => Assert.Equal(0f, x));
        if (name == "Clip1") Assert.Equal(1.0, Optimizer.GlobalNorm(g), 1e-5); // really clipped to the limit
    }

    // AdamW scales p by (1 − lr·wd) in the same pass as the Adam step: the same multiply, then the same update, so the
    // result equals PyTorch's two passes (p.mul_, then Adam without L2) bit for bit, on an arena large enough that both
    // cores share it, over several steps.
    [Fact]
    public void AdamW_decay_in_the_step_pass_equals_decay_then_adam_bit_for_bit()
    {
        const int n = 100_003, steps = 4;
        var rng = new Rng(21);
        float[] p1 = new float[n], g = new float[n];
        for (int i = 0; i < n; i++) { p1[i] = 2 * rng.NextFloat() - 1; g[i] = 0.01f * (2 * rng.NextFloat() - 1); }
        float[] p2 = (float[])p1.Clone(), original = (float[])p1.Clone();
        var fused = new AdamW(0.05, weightDecay: 0.3);
        var plain = new Adam(0.05);
        for (int step = 0; step < steps; step++)
        {
            fused.Step(p1, g);
            float decay = (float)(1 - 0.05 * 0.3);
            for (int i = 0; i < n; i++) p2[i] *= decay;
            plain.Step(p2, g);
        }
        int differ = 0;
        for (int i = 0; i < n; i++) if (BitConverter.SingleToInt32Bits(p1[i]) != BitConverter.SingleToInt32Bits(p2[i])) differ++;
        TestContext.Current.TestOutputHelper?.WriteLine($"{differ} of {n} parameters differ after {steps} steps");
        Assert.Equal(0, differ);
        Assert.True(p1.AsSpan().IndexOfAnyExcept(original) >= 0 && p1[^1] != original[^1], "the parameters did not move");
    }

    [Fact]
    public void ClippingOffLeavesGradientsAlone()
    {
        float[] p = OptimizerReferenceTests.Initial();
        var g = new float[p.Length];
        OptimizerReferenceTests.Gradient(p, 0, g);
        float[] before = (float[])g.Clone();
        new Adam().Step(p, g);
        Assert.Equal(before, g);
    }

    [Theory]
    [InlineData("StepLR")]
    [InlineData("CosineAnnealingLR")]
    [InlineData("ExponentialLR")]
    public void SchedulesMatchPyTorch(string name)
    {
        LearningRateSchedule schedule = name switch
        {
            "StepLR" => new StepDecay(3, 0.5),
            "CosineAnnealingLR" => new CosineDecay(10, minLearningRate: 0.001),
            _ => new ExponentialDecay(0.9),
        };
        double[] expected = TorchReference.Rates(name);
        var optimizer = new Sgd(0.1) { Schedule = schedule };
        double max = 0;
        for (int epoch = 0; epoch < expected.Length; epoch++)
        {
            optimizer.BeginEpoch(epoch);
            Assert.Equal(schedule.Rate(0.1, epoch), optimizer.CurrentLearningRate);
            max = Math.Max(max, Math.Abs(optimizer.CurrentLearningRate - expected[epoch]));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max |Δlr| vs PyTorch = {max:E2} over {expected.Length} epochs");
        Assert.True(max < 1e-12, $"max error {max:E2}");
    }

    [Fact]
    public void LearningRateFollowsBaseRateAndSchedule()
    {
        var plain = new Adam(0.01);
        Assert.Equal(0.01, plain.CurrentLearningRate);
        plain.BeginEpoch(5);
        plain.LearningRate = 0.02;
        Assert.Equal(0.02, plain.CurrentLearningRate);

        var scheduled = new Sgd(0.1) { Schedule = new StepDecay(1, 0.5) };
        scheduled.BeginEpoch(2);
        Assert.Equal(0.025, scheduled.CurrentLearningRate, 1e-15);
        scheduled.LearningRate = 1.0;
        Assert.Equal(0.25, scheduled.CurrentLearningRate, 1e-15);
        scheduled.Reset();
        Assert.Equal(0, scheduled.Epoch);
        Assert.Equal(1.0, scheduled.CurrentLearningRate);
    }

    [Fact]
    public void ResetStartsAfresh()
    {
        Optimizer optimizer = OptimizerReferenceTests.Create("AdamDecay");
        float[] first = OptimizerReferenceTests.Run(optimizer);
        Assert.Equal(TorchReference.Steps, optimizer.Steps);
        optimizer.Reset();
        Assert.Equal(0, optimizer.Steps);
        Assert.Equal(first, OptimizerReferenceTests.Run(optimizer));
        // After a reset the optimizer may serve an arena of another length.
        optimizer.Reset();
        optimizer.Step(new float[5], new float[5]);
    }

    public static TheoryData<string> Names => ["Sgd", "SgdNesterovDecay", "AdamDecay", "AdamW", "RmsProp", "RmsPropMomentumDecay", "AdamClip", "AdamCosine"];

    [Theory]
    [MemberData(nameof(Names))]
    public void AnotherArenaLengthThrows(string name)
    {
        Optimizer optimizer = OptimizerReferenceTests.Create(name);
        optimizer.Step(new float[10], new float[10]);
        var e = Assert.Throws<ArgumentException>(() => optimizer.Step(new float[11], new float[11]));
        Assert.Equal("parameters", e.ParamName);
        Assert.Contains("10", e.Message);
        Assert.Contains("Reset", e.Message);
        var mismatch = Assert.Throws<ArgumentException>(() => optimizer.Step(new float[10], new float[9]));
        Assert.Equal("gradients", mismatch.ParamName);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void StepDoesNotAllocate(string name)
    {
        Optimizer optimizer = OptimizerReferenceTests.Create(name);
        var p = new float[1003];
        var g = new float[1003];
        for (int i = 0; i < p.Length; i++) { p[i] = MathF.Sin(i); g[i] = MathF.Cos(i); }
        optimizer.BeginEpoch(0);
        optimizer.Step(p, g); // allocates the state
        // Warm up past tiered compilation (a method's first tier-up can allocate on the calling thread).
        for (int step = 0; step < 100; step++)
        {
            if (step % 10 == 0) optimizer.BeginEpoch(step / 10);
            optimizer.Step(p, g);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 100; step++)
        {
            if (step % 10 == 0) optimizer.BeginEpoch(step / 10);
            optimizer.Step(p, g);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.All(p, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        AssertRange("learningRate", () => new Sgd(-0.1));
        AssertRange("learningRate", () => new Sgd(double.NaN));
        AssertRange("momentum", () => new Sgd(0.1, momentum: -1));
        AssertRange("weightDecay", () => new Sgd(0.1, weightDecay: -1));
        var nesterov = Assert.Throws<ArgumentException>(() => new Sgd(0.1, nesterov: true));
        Assert.Equal("nesterov", nesterov.ParamName);

        AssertRange("learningRate", () => new Adam(double.PositiveInfinity));
        AssertRange("beta1", () => new Adam(beta1: 1.0));
        AssertRange("beta1", () => new Adam(beta1: -0.1));
        AssertRange("beta2", () => new Adam(beta2: 1.5));
        AssertRange("epsilon", () => new Adam(epsilon: -1e-8));
        AssertRange("weightDecay", () => new Adam(weightDecay: -0.01));
        AssertRange("beta2", () => new AdamW(beta2: 1.0));
        AssertRange("weightDecay", () => new AdamW(weightDecay: -1));

        AssertRange("alpha", () => new RmsProp(alpha: -0.5));
        AssertRange("epsilon", () => new RmsProp(epsilon: double.NaN));
        AssertRange("momentum", () => new RmsProp(momentum: -0.9));
        AssertRange("weightDecay", () => new RmsProp(weightDecay: -0.9));

        AssertRange("ClipNorm", () => new Adam { ClipNorm = -1 });
        AssertRange("LearningRate", () => new Adam().LearningRate = -1);
        AssertRange("epoch", () => new Adam().BeginEpoch(-1));

        AssertRange("stepSize", () => new StepDecay(0, 0.5));
        AssertRange("gamma", () => new StepDecay(1, -0.5));
        AssertRange("epochs", () => new CosineDecay(0));
        AssertRange("minLearningRate", () => new CosineDecay(10, -1));
        AssertRange("gamma", () => new ExponentialDecay(double.NaN));
        AssertRange("epoch", () => new CosineDecay(10).Rate(0.1, -1));
    }

    [Fact]
    public void DefaultsAreTorchDefaults()
    {
        var adam = new Adam();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 0.0), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay));
        var adamW = new AdamW();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-8, 0.01), (adamW.LearningRate, adamW.Beta1, adamW.Beta2, adamW.Epsilon, adamW.WeightDecay));
        var rms = new RmsProp();
        Assert.Equal((0.01, 0.99, 1e-8, 0.0, 0.0), (rms.LearningRate, rms.Alpha, rms.Epsilon, rms.Momentum, rms.WeightDecay));
        var sgd = new Sgd(0.1);
        Assert.Equal((0.0, false, 0.0, 0.0), (sgd.Momentum, sgd.Nesterov, sgd.WeightDecay, sgd.ClipNorm));
        Assert.Equal(0.1, new StepDecay(5).Gamma);
    }

    private static void AssertRange(string name, Action action)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(action);
        Assert.Equal(name, e.ParamName);
    }
}
