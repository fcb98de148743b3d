using System.Text.Json;

namespace Compiled.Integration.Tests;

/// <summary>6x6x2 → conv 3 (3x3, tanh) → max pool 2 → flatten → 3 softmax (Reference/make_cnn_reference.py: <c>tiny</c>).</summary>
[Input(6, 6, 2)]
[Conv2D(3, 3, Activation.Tanh)]
[MaxPool2D(2)]
[Flatten]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class TinyCnnReference;

/// <summary>Same padding, average pooling, a conv without bias, global average pooling (<c>same</c> in the script).</summary>
[Input(8, 8, 3)]
[Conv2D(4, 3, Activation.Relu, Padding = Padding.Same)]
[AvgPool2D(2)]
[Conv2D(5, 3, Activation.Gelu, UseBias = false)]
[GlobalAveragePool2D]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class SameCnnReference;

/// <summary>A first convolution with few filters and a max pooling, which the CPU runs as one kernel
/// (Conv2D.ForwardMaxPool / BackwardWeightsMaxPool, where the planar kernels take the convolution) (<c>pooled</c>).</summary>
[Input(12, 12, 1)]
[Conv2D(4, 3, Activation.Relu, Padding = Padding.Same)]
[MaxPool2D(2)]
[Flatten]
[Dense(3, Activation.Softmax)]
[Loss(Loss.SparseCategoricalCrossEntropy)]
public partial class PooledCnnReference;

/// <summary>
/// Convolutional models against PyTorch's autograd (float64, NCHW) on the same parameters, taken as they are from our
/// arena: this pins the layouts the checkpoints promise (conv weights [out, in, kh, kw], Flatten in (C, H, W) order,
/// Keras "same" padding) as well as the math. Values in Reference/cnn_reference.json, made by make_cnn_reference.py.
/// </summary>
public class CnnReferenceTests
{
    /// <summary>The same formula as <c>value</c> in make_cnn_reference.py.</summary>
    private static double Value(int i, int k) => 0.5 * Math.Sin(0.37 * i + 0.11 * k + 0.3);

    public static TheoryData<string> Models => new(["TinyCnnReference", "SameCnnReference", "PooledCnnReference"]);

    [Theory]
    [MemberData(nameof(Models))]
    public void LossOutputsAndGradientsMatchPyTorch(string name)
    {
        IModel model = name switch
        {
            "TinyCnnReference" => new TinyCnnReference(),
            "SameCnnReference" => new SameCnnReference(),
            _ => new PooledCnnReference(),
        };
        string path = Path.Combine(AppContext.BaseDirectory, "Reference", "cnn_reference.json");
        JsonElement reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("models").GetProperty(name);
        int batch = reference.GetProperty("batch").GetInt32();

        ReadOnlySpan<TensorInfo> tensors = model.Tensors;
        for (int k = 0; k < tensors.Length; k++)
            for (int i = 0; i < tensors[k].Length; i++)
                model.Parameters[tensors[k].Offset + i] = (float)Value(i, k);
        float[] x = Enumerable.Range(0, batch * model.InputSize).Select(i => (float)Value(i, 100)).ToArray();
        float[] t = reference.GetProperty("targets").EnumerateArray().Select(e => (float)e.GetInt32()).ToArray();
        var outputs = new float[batch * model.OutputSize];
        float loss = model.ComputeGradients(x, t, outputs, batch);

        double lossError = Math.Abs(loss - reference.GetProperty("loss").GetDouble());
        double outputError = MaxError(outputs, reference.GetProperty("outputs"));
        double gradientError = 0;
        JsonElement gradients = reference.GetProperty("gradients");
        foreach (TensorInfo tensor in model.Tensors)
            gradientError = Math.Max(gradientError,
                MaxError(model.Gradients.Slice(tensor.Offset, tensor.Length).ToArray(), gradients.GetProperty(tensor.Name)));
        Assert.Equal(gradients.EnumerateObject().Count(), model.Tensors.Length);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: vs PyTorch 1.13 (float64, NCHW): |Δloss| {lossError:E2}, max |Δoutput| {outputError:E2}, max |Δgrad| {gradientError:E2}");
        Assert.True(lossError < 1e-5, $"loss {loss} vs PyTorch {reference.GetProperty("loss").GetDouble()}");
        Assert.True(outputError < 1e-5, $"outputs differ from PyTorch by {outputError}");
        Assert.True(gradientError < 1e-5, $"gradients differ from PyTorch by {gradientError}");
    }

    private static double MaxError(float[] ours, JsonElement theirs)
    {
        double[] expected = theirs.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(expected.Length, ours.Length);
        return expected.Zip(ours, (e, o) => Math.Abs(e - o)).Max();
    }
}
