namespace Compiled.Integration.Tests;

/// <summary>
/// <c>model.Summary()</c>, Keras' <c>model.summary()</c> table, against checked-in text (tests/Integration.Tests/Summaries):
/// the per-layer parameter counts there are Keras' for the same networks (MNIST CNN: 225,034 in all).
/// </summary>
public class SummaryTests
{
    [Fact]
    public void MnistMlpSummaryMatchesTheCheckedInText() => MatchesCheckedInText(new MnistMlp(), "MnistMlp", MnistMlp.ParameterCount);

    [Fact]
    public void MnistCnnSummaryMatchesTheCheckedInText() => MatchesCheckedInText(new MnistCnn(), "MnistCnn", MnistCnn.ParameterCount);

    [Fact]
    public void LayersDescribeTheMnistCnn()
    {
        ReadOnlySpan<LayerInfo> layers = new MnistCnn().Layers;
        Assert.Equal(7, layers.Length);
        LayerInfo conv = layers[2];
        Assert.Equal(("Conv2D", "layers.2", Activation.Relu), (conv.Kind, conv.Name, conv.Activation));
        Assert.Equal([13, 13, 32], conv.InputShape);
        Assert.Equal([11, 11, 64], conv.OutputShape);
        Assert.Equal(["layers.2.weight", "layers.2.bias"], conv.ParameterNames);
        Assert.Equal((64, 3, 3, 1, Padding.Valid, true), (conv.Filters, conv.KernelHeight, conv.KernelWidth, conv.Stride, conv.Padding, conv.UseBias));
        Assert.Equal((2, 2, 2), (layers[3].KernelHeight, layers[3].KernelWidth, layers[3].Stride));
        Assert.Equal(10, layers[6].Units);
        Assert.Equal(Activation.Softmax, layers[6].Activation);
    }

    private static void MatchesCheckedInText(IModel model, string name, int parameterCount)
    {
        string expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Summaries", name + ".txt")).ReplaceLineEndings("\n");
        string actual = model.Summary();
        TestContext.Current.TestOutputHelper?.WriteLine(actual);
        Assert.Equal(expected, actual);

        // The totals are the arena's size, and the layers' counts are their tensors' sizes.
        long total = 0;
        foreach (LayerInfo layer in model.Layers)
        {
            int own = 0;
            foreach (TensorInfo tensor in model.Tensors)
                if (layer.ParameterNames.Contains(tensor.Name)) own += tensor.Length;
            Assert.Equal(own, layer.ParameterCount);
            total += layer.ParameterCount;
        }
        Assert.Equal(parameterCount, total);
        Assert.Equal(parameterCount, model.Parameters.Length);
        Assert.Contains($"Total params: {parameterCount:N0} (", actual);
    }
}
