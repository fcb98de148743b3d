using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>
/// Whole generated models against two references: central finite differences of a double-precision evaluator,
/// and PyTorch's autograd (values in Reference/pytorch_reference.json, made by Reference/make_reference.py).
/// </summary>
public class GradientTests
{
    public static TheoryData<string> Models => new(ReferenceModels.Specs.Select(s => s.Name));

    private static ITestOutputHelper? Output => TestContext.Current.TestOutputHelper;

    private static (IModel Model, float Loss, float[] Outputs) Run(ReferenceModels.ModelSpec spec)
    {
        IModel model = ReferenceModels.CreateWithReferenceParameters(spec);
        float[] x = ReferenceModels.Inputs(spec).Select(v => (float)v).ToArray();
        float[] t = ReferenceModels.Targets(spec).Select(v => (float)v).ToArray();
        var outputs = new float[spec.Batch * model.OutputSize];
        float loss = model.ComputeGradients(x, t, outputs, spec.Batch);
        return (model, loss, outputs);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        ReferenceModels.ModelSpec spec = ReferenceModels.Spec(name);
        var (model, loss, _) = Run(spec);
        double[] p = model.Parameters.ToArray().Select(v => (double)v).ToArray();
        double[] x = ReferenceModels.Inputs(spec).Select(v => (double)(float)v).ToArray();
        double[] t = ReferenceModels.Targets(spec).Select(v => (double)(float)v).ToArray();

        double referenceLoss = ReferenceModels.Evaluate(spec, p, x, t).Loss;
        Assert.Equal(referenceLoss, loss, 1e-5);

        const double h = 1e-6;
        double maxError = 0;
        float[] gradients = model.Gradients.ToArray();
        for (int i = 0; i < p.Length; i++)
        {
            double saved = p[i];
            p[i] = saved + h;
            double plus = ReferenceModels.Evaluate(spec, p, x, t).Loss;
            p[i] = saved - h;
            double minus = ReferenceModels.Evaluate(spec, p, x, t).Loss;
            p[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            double error = Math.Abs(numeric - gradients[i]) / Math.Max(1, Math.Abs(numeric));
            maxError = Math.Max(maxError, error);
            Assert.True(error < 2e-5, $"{name}: parameter {i}: finite difference {numeric}, generated backward {gradients[i]}");
        }
        Output?.WriteLine($"{name}: {p.Length} parameters, max relative gradient error vs finite differences {maxError:E2}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LossOutputsAndGradientsMatchPyTorch(string name)
    {
        ReferenceModels.ModelSpec spec = ReferenceModels.Spec(name);
        JsonElement reference = LoadReference().GetProperty("models").GetProperty(name);
        Assert.Equal(spec.Batch, reference.GetProperty("batch").GetInt32());
        Assert.Equal(ReferenceModels.Targets(spec), reference.GetProperty("targets").EnumerateArray().Select(e => e.GetDouble()));

        var (model, loss, outputs) = Run(spec);

        double lossError = Math.Abs(loss - reference.GetProperty("loss").GetDouble());
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {reference.GetProperty("loss").GetDouble()}");
        double outputError = MaxError(outputs, reference.GetProperty("outputs"));
        Assert.True(outputError < 1e-5, $"outputs differ from PyTorch by {outputError}");

        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        int tensors = 0;
        foreach (TensorInfo tensor in model.Tensors)
        {
            float[] ours = model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray();
            gradientError = Math.Max(gradientError, MaxError(ours, gradients.GetProperty(tensor.Name)));
            tensors++;
        }
        Assert.Equal(gradients.EnumerateObject().Count(), tensors);
        Assert.True(gradientError < 1e-5, $"gradients differ from PyTorch by {gradientError}");
        Output?.WriteLine($"{name}: vs PyTorch 1.13 (float64): |Δloss| {lossError:E2}, max |Δoutput| {outputError:E2}, max |Δgrad| {gradientError:E2}");
    }

    private static double MaxError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o)).Max();
    }

    private static JsonElement LoadReference()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "pytorch_reference.json");
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement;
    }
}
