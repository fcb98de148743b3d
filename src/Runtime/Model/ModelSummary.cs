using System.Globalization;
using System.Text;

namespace Compiled;

/// <summary>Keras' <c>model.summary()</c> for compiled models: one row per layer, then the parameter totals.</summary>
public static class ModelSummary
{
    private const int NameWidth = 29, ShapeWidth = 26, ParamWidth = 10;
    private const int Width = NameWidth + ShapeWidth + ParamWidth;

    /// <summary>
    /// The table Keras prints for <c>model.summary()</c>: each layer's name and kind, its output shape with the batch
    /// as <c>None</c>, its parameter count, and the totals: trainable parameters, and non-trainable float state (BatchNorm's running mean and
    /// variance, as Keras counts them; its int64 batch counter is not a parameter).
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="name">The title; <see langword="null"/> uses the model's class name.</param>
    /// <returns>The table, lines separated by <c>\n</c>, ending with one.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <example><code>
    /// Model: "MnistMlp"
    /// _________________________________________________________________
    ///  Layer (type)                Output Shape              Param #
    /// =================================================================
    ///  layers.0 (Dense)            (None, 128)               100,480
    ///  layers.1 (Dense)            (None, 10)                1,290
    /// =================================================================
    /// Total params: 101,770 (397.54 KB)
    /// Trainable params: 101,770 (397.54 KB)
    /// Non-trainable params: 0 (0.00 B)
    /// _________________________________________________________________
    /// </code></example>
    public static string Summary(this IModel model, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var text = new StringBuilder();
        text.Append("Model: \"").Append(name ?? model.GetType().Name).Append("\"\n");
        text.Append('_', Width).Append('\n');
        Row(text, " Layer (type)", "Output Shape", "Param #");
        text.Append('=', Width).Append('\n');
        long total = 0, state = 0;
        foreach (LayerInfo layer in model.Layers)
        {
            long layerState = StateFloats(model, layer);
            state += layerState;
            var shape = new StringBuilder("(None");
            foreach (int d in layer.OutputShape) shape.Append(", ").Append(d.ToString(CultureInfo.InvariantCulture));
            shape.Append(')');
            Row(text, $" {layer.Name} ({layer.Kind})", shape.ToString(), Count(layer.ParameterCount + layerState));
            total += layer.ParameterCount;
        }
        text.Append('=', Width).Append('\n');
        text.Append("Total params: ").Append(Count(total + state)).Append(" (").Append(Bytes((total + state) * sizeof(float))).Append(")\n");
        text.Append("Trainable params: ").Append(Count(total)).Append(" (").Append(Bytes(total * sizeof(float))).Append(")\n");
        text.Append("Non-trainable params: ").Append(Count(state)).Append(" (").Append(Bytes(state * sizeof(float))).Append(")\n");
        text.Append('_', Width).Append('\n');
        return text.ToString();
    }

    /// <summary>The floats of the layer's float buffers (running statistics); counters are not parameters.</summary>
    private static long StateFloats(IModel model, LayerInfo layer)
    {
        long floats = 0;
        foreach (string bufferName in layer.BufferNames)
            foreach (TensorInfo tensor in model.BufferTensors)
                if (tensor.Name == bufferName && tensor.DataType == TensorDataType.Float32) floats += tensor.Length;
        return floats;
    }

    private static void Row(StringBuilder text, string layer, string shape, string parameters)
    {
        // A column that overflows pushes the next one right, with one space between, as Keras does.
        text.Append(layer.PadRight(NameWidth - 1)).Append(' ');
        text.Append(shape.PadRight(ShapeWidth - 1)).Append(' ');
        text.Append(parameters).Append('\n');
    }

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes switch
    {
        < 1024 => bytes.ToString("0.00", CultureInfo.InvariantCulture) + " B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.00", CultureInfo.InvariantCulture) + " KB",
        < 1024L * 1024 * 1024 => (bytes / (1024.0 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " MB",
        _ => (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " GB",
    };
}
