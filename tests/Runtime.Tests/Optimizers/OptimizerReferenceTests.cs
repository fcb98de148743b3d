using Xunit;

namespace Compiled.Runtime.Tests.Optimizers;

/// <summary>
/// Each optimizer runs <see cref="TorchReference.Steps"/> steps on the problem that torch_reference.py builds, and the
/// parameters are compared with PyTorch's and with an independent double-precision implementation below.
/// </summary>
public class OptimizerReferenceTests
{
    public static TheoryData<string> Cases =>
    [
        "Sgd", "SgdMomentum", "SgdNesterovDecay", "SgdMomentumDecay", "Adam", "AdamDefault", "AdamDecay", "AdamW",
        "AdamWStrong", "RmsProp", "RmsPropMomentumDecay", "AdamClip", "SgdMomentumClip", "SgdStepDecay", "AdamCosine",
    ];

    /// <summary>The optimizer under test for each case, configured as in torch_reference.py.</summary>
    internal static Optimizer Create(string name) => name switch
    {
        "Sgd" => new Sgd(0.1),
        "SgdMomentum" => new Sgd(0.1, momentum: 0.9),
        "SgdNesterovDecay" => new Sgd(0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01),
        "SgdMomentumDecay" => new Sgd(0.05, momentum: 0.5, weightDecay: 0.1),
        "Adam" => new Adam(0.05),
        "AdamDefault" => new Adam(),
        "AdamDecay" => new Adam(0.05, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1),
        "AdamW" => new AdamW(0.05),
        "AdamWStrong" => new AdamW(0.05, weightDecay: 0.5),
        "RmsProp" => new RmsProp(),
        "RmsPropMomentumDecay" => new RmsProp(0.01, alpha: 0.9, momentum: 0.9, weightDecay: 0.05),
        "AdamClip" => new Adam(0.05) { ClipNorm = 1.0 },
        "SgdMomentumClip" => new Sgd(0.1, momentum: 0.9) { ClipNorm = 0.5 },
        "SgdStepDecay" => new Sgd(0.1, momentum: 0.9) { Schedule = new StepDecay(2, 0.5) },
        "AdamCosine" => new Adam(0.05) { Schedule = new CosineDecay(4, 0.001) },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>The same case as a double-precision reference (written from the PyTorch docs' pseudo-code).</summary>
    private static DoubleOptimizer CreateReference(string name) => name switch
    {
        "Sgd" => new DoubleOptimizer { Kind = "sgd", Lr = 0.1 },
        "SgdMomentum" => new DoubleOptimizer { Kind = "sgd", Lr = 0.1, Momentum = 0.9 },
        "SgdNesterovDecay" => new DoubleOptimizer { Kind = "sgd", Lr = 0.05, Momentum = 0.9, Nesterov = true, WeightDecay = 0.01 },
        "SgdMomentumDecay" => new DoubleOptimizer { Kind = "sgd", Lr = 0.05, Momentum = 0.5, WeightDecay = 0.1 },
        "Adam" => new DoubleOptimizer { Kind = "adam", Lr = 0.05 },
        "AdamDefault" => new DoubleOptimizer { Kind = "adam", Lr = 1e-3 },
        "AdamDecay" => new DoubleOptimizer { Kind = "adam", Lr = 0.05, Beta1 = 0.8, Beta2 = 0.99, Eps = 1e-6, WeightDecay = 0.1 },
        "AdamW" => new DoubleOptimizer { Kind = "adamw", Lr = 0.05, WeightDecay = 0.01 },
        "AdamWStrong" => new DoubleOptimizer { Kind = "adamw", Lr = 0.05, WeightDecay = 0.5 },
        "RmsProp" => new DoubleOptimizer { Kind = "rmsprop", Lr = 0.01 },
        "RmsPropMomentumDecay" => new DoubleOptimizer { Kind = "rmsprop", Lr = 0.01, Alpha = 0.9, Momentum = 0.9, WeightDecay = 0.05 },
        "AdamClip" => new DoubleOptimizer { Kind = "adam", Lr = 0.05, Clip = 1.0 },
        "SgdMomentumClip" => new DoubleOptimizer { Kind = "sgd", Lr = 0.1, Momentum = 0.9, Clip = 0.5 },
        "SgdStepDecay" => new DoubleOptimizer { Kind = "sgd", Lr = 0.1, Momentum = 0.9, RateAt = e => 0.1 * Math.Pow(0.5, e / 2) },
        "AdamCosine" => new DoubleOptimizer { Kind = "adam", Lr = 0.05, RateAt = e => 0.001 + (0.05 - 0.001) * (1 + Math.Cos(Math.PI * e / 4)) / 2 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>p₀[i] = sin(0.7·i + 0.3)·(1 + 0.05·i), as torch_reference.py.</summary>
    internal static float[] Initial()
    {
        var p = new float[TorchReference.Parameters];
        for (int i = 0; i < p.Length; i++) p[i] = (float)(Math.Sin(0.7 * i + 0.3) * (1 + 0.05 * i));
        return p;
    }

    /// <summary>g = 0.5·p + sin(0.37·i + 0.11·step), in float as PyTorch computes it.</summary>
    internal static void Gradient(ReadOnlySpan<float> p, int step, Span<float> g)
    {
        for (int i = 0; i < p.Length; i++) g[i] = 0.5f * p[i] + (float)Math.Sin(0.37 * i + 0.11 * step);
    }

    internal static float[] Run(Optimizer optimizer)
    {
        float[] p = Initial();
        var g = new float[p.Length];
        for (int step = 0; step < TorchReference.Steps; step++)
        {
            if (step % TorchReference.StepsPerEpoch == 0) optimizer.BeginEpoch(step / TorchReference.StepsPerEpoch);
            Gradient(p, step, g);
            optimizer.Step(p, g);
        }
        return p;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        float[] actual = Run(Create(name));
        float[] expected = TorchReference.Final(name);
        double max = MaxRelativeError(actual, expected);
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max |Δ|/(1+|torch|) vs PyTorch {TorchReference.TorchVersion} = {max:E2}");
        Assert.True(max < 5e-7, $"{name}: max error {max:E2} vs PyTorch");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDoublePrecisionReference(string name)
    {
        float[] actual = Run(Create(name));
        DoubleOptimizer reference = CreateReference(name);
        double[] p = Array.ConvertAll(Initial(), x => (double)x);
        var g = new double[p.Length];
        for (int step = 0; step < TorchReference.Steps; step++)
        {
            for (int i = 0; i < p.Length; i++) g[i] = 0.5 * p[i] + Math.Sin(0.37 * i + 0.11 * step);
            reference.Step(p, g, step / TorchReference.StepsPerEpoch);
        }
        double max = MaxRelativeError(actual, Array.ConvertAll(p, x => (float)x));
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: max |Δ|/(1+|ref|) vs double reference = {max:E2}");
        Assert.True(max < 1e-5, $"{name}: max error {max:E2} vs double reference");
    }

    [Fact]
    public void ScalarAndVectorPathsAgreeOnLongArenas()
    {
        // A long arena runs mostly through the vector loop; each element must equal the same element updated alone
        // (which takes the scalar tail), since the update is element-wise.
        foreach (string name in new[] { "SgdNesterovDecay", "AdamDecay", "AdamWStrong", "RmsPropMomentumDecay" })
        {
            const int N = 1000;
            var p = new float[N];
            var g = new float[N];
            for (int i = 0; i < N; i++) p[i] = (float)Math.Sin(0.01 * i);
            float[] single = (float[])p.Clone();
            Optimizer whole = Create(name);
            var each = new Optimizer[N];
            for (int i = 0; i < N; i++) each[i] = Create(name);
            for (int step = 0; step < 3; step++)
            {
                for (int i = 0; i < N; i++) g[i] = 0.5f * p[i] + (float)Math.Cos(0.3 * i + step);
                var gs = new float[N];
                for (int i = 0; i < N; i++) gs[i] = 0.5f * single[i] + (float)Math.Cos(0.3 * i + step);
                whole.Step(p, g);
                for (int i = 0; i < N; i++) each[i].Step(single.AsSpan(i, 1), gs.AsSpan(i, 1));
            }
            Assert.Equal(single, p);
        }
    }

    private static double MaxRelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(float.IsFinite(actual[i]), $"element {i} is {actual[i]}");
            max = Math.Max(max, Math.Abs(actual[i] - (double)expected[i]) / (1 + Math.Abs(expected[i])));
        }
        return max;
    }

    /// <summary>An independent double-precision implementation of the PyTorch update rules.</summary>
    private sealed class DoubleOptimizer
    {
        public string Kind = "";
        public double Lr, Momentum, WeightDecay, Clip, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, Alpha = 0.99;
        public bool Nesterov;
        public Func<int, double>? RateAt;
        private double[]? _a, _b;
        private int _t;

        public void Step(double[] p, double[] g, int epoch)
        {
            int n = p.Length;
            _a ??= new double[n];
            _b ??= new double[n];
            _t++;
            double lr = RateAt?.Invoke(epoch) ?? Lr;
            if (Clip > 0)
            {
                double norm = Math.Sqrt(g.Sum(x => x * x));
                double coef = Math.Min(1, Clip / (norm + 1e-6));
                for (int i = 0; i < n; i++) g[i] *= coef;
            }
            for (int i = 0; i < n; i++)
            {
                double gi = g[i];
                switch (Kind)
                {
                    case "sgd":
                        gi += WeightDecay * p[i];
                        if (Momentum != 0)
                        {
                            _a[i] = _t == 1 ? gi : Momentum * _a[i] + gi;
                            gi = Nesterov ? gi + Momentum * _a[i] : _a[i];
                        }
                        p[i] -= lr * gi;
                        break;
                    case "adam":
                    case "adamw":
                        if (Kind == "adam") gi += WeightDecay * p[i];
                        else p[i] *= 1 - lr * WeightDecay;
                        _a[i] = Beta1 * _a[i] + (1 - Beta1) * gi;
                        _b[i] = Beta2 * _b[i] + (1 - Beta2) * gi * gi;
                        double mHat = _a[i] / (1 - Math.Pow(Beta1, _t));
                        double vHat = _b[i] / (1 - Math.Pow(Beta2, _t));
                        p[i] -= lr * mHat / (Math.Sqrt(vHat) + Eps);
                        break;
                    case "rmsprop":
                        gi += WeightDecay * p[i];
                        _a[i] = Alpha * _a[i] + (1 - Alpha) * gi * gi;
                        double avg = Math.Sqrt(_a[i]) + Eps;
                        if (Momentum > 0)
                        {
                            _b[i] = Momentum * _b[i] + gi / avg;
                            p[i] -= lr * _b[i];
                        }
                        else
                        {
                            p[i] -= lr * gi / avg;
                        }
                        break;
                    default:
                        throw new InvalidOperationException(Kind);
                }
            }
        }
    }
}
