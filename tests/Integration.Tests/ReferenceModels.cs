namespace Compiled.Integration.Tests;

// Small models that between them use every activation and every loss, each compiled by the real generator.
// Their layer lists are repeated in ReferenceModels.Specs (for the double-precision reference) and in
// Reference/make_reference.py (for PyTorch): keep the three in step.

[Input(5)] [Dense(7, Activation.Relu)] [Dense(4, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class ReluSoftmaxSparse;

[Input(6)] [Dense(8, Activation.Gelu)] [Dense(5, Activation.Tanh)] [Dense(3, Activation.Softmax)] [Loss(Loss.CategoricalCrossEntropy)]
public partial class GeluTanhSoftmaxOneHot;

[Input(4)] [Dense(6, Activation.LeakyRelu, L2 = 0.01)] [Dense(2, Activation.Sigmoid)] [Loss(Loss.BinaryCrossEntropy)]
public partial class LeakySigmoidBinary;

[Input(3)] [Dense(5, Activation.Sigmoid)] [Dense(2)] [Loss(Loss.MeanSquaredError)]
public partial class SigmoidLinearMse;

[Input(4)] [Dense(6, Activation.Tanh)] [Dense(3, Activation.Softmax)] [Loss(Loss.MeanSquaredError)]
public partial class TanhSoftmaxMse;

/// <summary>The reference models, their deterministic parameters and data, and a double-precision evaluator.</summary>
public static class ReferenceModels
{
    public sealed record LayerSpec(int Units, Activation Activation, double L2 = 0);

    public sealed record ModelSpec(string Name, Func<IModel> Create, int Inputs, LayerSpec[] Layers, Loss Loss, int Batch);

    public static readonly ModelSpec[] Specs =
    {
        new("ReluSoftmaxSparse", () => new ReluSoftmaxSparse(), 5,
            new LayerSpec[] { new(7, Activation.Relu), new(4, Activation.Softmax) }, Loss.SparseCategoricalCrossEntropy, 6),
        new("GeluTanhSoftmaxOneHot", () => new GeluTanhSoftmaxOneHot(), 6,
            new LayerSpec[] { new(8, Activation.Gelu), new(5, Activation.Tanh), new(3, Activation.Softmax) }, Loss.CategoricalCrossEntropy, 5),
        new("LeakySigmoidBinary", () => new LeakySigmoidBinary(), 4,
            new LayerSpec[] { new(6, Activation.LeakyRelu, 0.01), new(2, Activation.Sigmoid) }, Loss.BinaryCrossEntropy, 7),
        new("SigmoidLinearMse", () => new SigmoidLinearMse(), 3,
            new LayerSpec[] { new(5, Activation.Sigmoid), new(2, Activation.None) }, Loss.MeanSquaredError, 4),
        new("TanhSoftmaxMse", () => new TanhSoftmaxMse(), 4,
            new LayerSpec[] { new(6, Activation.Tanh), new(3, Activation.Softmax) }, Loss.MeanSquaredError, 3),
    };

    public static ModelSpec Spec(string name) => Specs.Single(s => s.Name == name);

    /// <summary>Parameter <paramref name="i"/> of the arena (same formula as make_reference.py).</summary>
    public static double Parameter(int i, int k = 0) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    public static double Feature(int i) => Math.Cos(0.13 * i) + 0.25 * Math.Sin(0.7 * i);

    public static double[] Inputs(ModelSpec spec) =>
        Enumerable.Range(0, spec.Batch * spec.Inputs).Select(Feature).ToArray();

    /// <summary>The same targets make_reference.py uses.</summary>
    public static double[] Targets(ModelSpec spec)
    {
        int n = spec.Layers[^1].Units, b = spec.Batch;
        var t = new List<double>();
        for (int r = 0; r < b; r++)
        {
            switch (spec.Loss)
            {
                case Loss.SparseCategoricalCrossEntropy: t.Add(r % n); break;
                case Loss.CategoricalCrossEntropy: for (int c = 0; c < n; c++) t.Add(c == (2 * r + 1) % n ? 1 : 0); break;
                case Loss.BinaryCrossEntropy: for (int c = 0; c < n; c++) t.Add((r + c) % 2); break;
                default: for (int c = 0; c < n; c++) t.Add(Math.Sin(0.5 * (r * n + c))); break;
            }
        }
        return t.ToArray();
    }

    public static IModel CreateWithReferenceParameters(ModelSpec spec)
    {
        IModel model = spec.Create();
        Span<float> p = model.Parameters;
        for (int i = 0; i < p.Length; i++) p[i] = (float)Parameter(i);
        return model;
    }

    /// <summary>Loss and outputs computed in double precision, straight from the definitions.</summary>
    public static (double Loss, double[] Outputs) Evaluate(ModelSpec spec, double[] parameters, double[] x, double[] targets)
    {
        int b = spec.Batch, width = spec.Inputs, offset = 0;
        double[] h = x;
        double[] logits = Array.Empty<double>();
        double penalty = 0;
        foreach (LayerSpec layer in spec.Layers)
        {
            int wOff = offset, bOff = offset + layer.Units * width;
            offset = bOff + layer.Units;
            var z = new double[b * layer.Units];
            for (int r = 0; r < b; r++)
            for (int o = 0; o < layer.Units; o++)
            {
                double acc = parameters[bOff + o];
                for (int i = 0; i < width; i++) acc += h[r * width + i] * parameters[wOff + o * width + i];
                z[r * layer.Units + o] = acc;
            }
            if (layer.L2 > 0)
                for (int i = 0; i < layer.Units * width; i++) penalty += layer.L2 * parameters[wOff + i] * parameters[wOff + i];
            logits = z;
            h = Activate(layer.Activation, z, b, layer.Units);
            width = layer.Units;
        }
        int n = width;
        double loss = 0;
        for (int r = 0; r < b; r++)
        {
            switch (spec.Loss)
            {
                case Loss.SparseCategoricalCrossEntropy:
                    loss -= Math.Log(h[r * n + (int)targets[r]]);
                    break;
                case Loss.CategoricalCrossEntropy:
                    for (int c = 0; c < n; c++) loss -= targets[r * n + c] * Math.Log(h[r * n + c]);
                    break;
                case Loss.BinaryCrossEntropy:
                    for (int c = 0; c < n; c++)
                    {
                        double z = logits[r * n + c], t = targets[r * n + c];
                        loss += (Math.Max(z, 0) - z * t + Math.Log(1 + Math.Exp(-Math.Abs(z)))) / n;
                    }
                    break;
                default:
                    for (int c = 0; c < n; c++) loss += Math.Pow(h[r * n + c] - targets[r * n + c], 2) / n;
                    break;
            }
        }
        return (loss / b + penalty, h);
    }

    private static double[] Activate(Activation activation, double[] z, int b, int n)
    {
        var y = new double[z.Length];
        if (activation == Activation.Softmax)
        {
            for (int r = 0; r < b; r++)
            {
                double max = z.Skip(r * n).Take(n).Max(), sum = 0;
                for (int c = 0; c < n; c++) sum += y[r * n + c] = Math.Exp(z[r * n + c] - max);
                for (int c = 0; c < n; c++) y[r * n + c] /= sum;
            }
            return y;
        }
        for (int i = 0; i < z.Length; i++)
        {
            double v = z[i];
            y[i] = activation switch
            {
                Activation.Relu => Math.Max(v, 0),
                Activation.LeakyRelu => v > 0 ? v : 0.01 * v,
                Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
                Activation.Tanh => Math.Tanh(v),
                Activation.Gelu => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))),
                _ => v,
            };
        }
        return y;
    }
}
