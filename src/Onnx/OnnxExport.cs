using System.Globalization;

namespace Compiled.Onnx;

/// <summary>
/// ONNX export for compiled models: <c>model.ExportOnnx("model.onnx")</c> writes the inference graph (what
/// <c>Forward</c>/<c>Predict</c> compute) with the current weights, for ONNX Runtime and other ONNX tools.
/// </summary>
/// <remarks>
/// <para>The file is an ONNX <c>ModelProto</c> with IR version 8 and operator set 17 (ONNX 1.12, 2022): every layer
/// Compiled has maps onto operators that set has had for years, so older runtimes and converters load it too. GELU
/// entered the operator set only in 20, so it is written as its tanh formula from primitive operators.</para>
/// <para>The input is <c>input</c>, shape <c>[batch, …]</c> as the model declares it (images as height, width, channels,
/// which is how <c>Forward</c> takes them); the output is <c>output</c>, what <c>Forward</c> writes (softmax
/// probabilities for a softmax head). Images go to NCHW once, before the first convolution or pooling layer, and Flatten
/// then flattens in (C, H, W) order as Compiled's does. Weights are the initializers, named as in checkpoints
/// (<c>layers.0.weight</c>); Dense weights are <c>[out, in]</c> (Gemm with transB) and Conv2D weights OIHW, both as
/// stored.</para>
/// </remarks>
public static class OnnxExport
{
    /// <summary>The ONNX IR version written (8, the one operator set 17 came with).</summary>
    public const int IrVersion = 8;

    /// <summary>The version of the default (<c>ai.onnx</c>) operator set the graph uses.</summary>
    public const int Opset = 17;

    /// <summary>Writes <paramref name="model"/>'s inference graph and weights to <paramref name="path"/> as an ONNX model.</summary>
    /// <param name="model">The model; its current parameters are the graph's weights.</param>
    /// <param name="path">The file to write (replaced if it exists).</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names it.</exception>
    public static void ExportOnnx(this IModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = model.ToOnnx();
        string temporary = path + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Writes <paramref name="model"/>'s inference graph and weights to <paramref name="stream"/> as an ONNX model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="stream">A writable stream; left open.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="stream"/> is null.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names it.</exception>
    public static void ExportOnnx(this IModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(model.ToOnnx());
    }

    /// <summary>The ONNX model as bytes (a serialized <c>ModelProto</c>).</summary>
    /// <param name="model">The model.</param>
    /// <param name="name">The graph's name; <see langword="null"/> uses the model's class name.</param>
    /// <returns>The bytes of the ONNX file.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names it.</exception>
    public static byte[] ToOnnx(this IModel model, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ReadOnlySpan<LayerInfo> layers = model.Layers;
        if (layers.IsEmpty) throw new ArgumentException("The model has no layers to export.", nameof(model));

        var graph = new OnnxGraph();
        const string input = "input";
        string x = input;
        bool nchw = false; // whether x is an image in NCHW (after the first convolution or pooling layer)
        foreach (LayerInfo layer in layers)
        {
            switch (layer.Kind)
            {
                case "Dense" when layer.InputShape.Length == 2:
                    // Applied at every step of a (T, F) sequence: MatMul with Wᵀ (a [F, units] initializer), then Add.
                    x = graph.Node("MatMul", layer.Name, "matmul", [x, TransposedWeight(graph, model, layer)]);
                    x = graph.Node("Add", layer.Name, "add", [x, Weight(graph, model, layer, 1)]);
                    x = Activate(graph, layer, x);
                    break;
                case "Embedding":
                    // Token ids come as floats (whole numbers, checked by Predict): Cast to int64, then Gather rows.
                    x = graph.Node("Cast", layer.Name, "ids", [x], new OnnxAttribute("to", Int: 7)); // TensorProto.INT64
                    x = graph.Node("Gather", layer.Name, "gather", [Weight(graph, model, layer, 0), x], new OnnxAttribute("axis", Int: 0));
                    break;
                case "Dense":
                    // y = x · Wᵀ + b: Gemm with W as stored, [units, in].
                    x = graph.Node("Gemm", layer.Name, "gemm", [x, Weight(graph, model, layer, 0), Weight(graph, model, layer, 1)],
                        new OnnxAttribute("transB", Int: 1));
                    x = Activate(graph, layer, x);
                    break;
                case "Conv2D":
                    x = ToNchw(graph, layer, x, ref nchw);
                    string[] inputs = layer.UseBias
                        ? [x, Weight(graph, model, layer, 0), Weight(graph, model, layer, 1)]
                        : [x, Weight(graph, model, layer, 0)];
                    x = graph.Node("Conv", layer.Name, "conv", inputs, Window(layer));
                    x = Activate(graph, layer, x);
                    break;
                case "MaxPool2D":
                    x = ToNchw(graph, layer, x, ref nchw);
                    x = graph.Node("MaxPool", layer.Name, "maxpool", [x], Window(layer));
                    break;
                case "AvgPool2D":
                    // Compiled averages over the taps inside the image only: count_include_pad = 0.
                    x = ToNchw(graph, layer, x, ref nchw);
                    x = graph.Node("AveragePool", layer.Name, "avgpool", [x], [.. Window(layer), new OnnxAttribute("count_include_pad", Int: 0)]);
                    break;
                case "GlobalAveragePool2D":
                    x = ToNchw(graph, layer, x, ref nchw);
                    x = graph.Node("GlobalAveragePool", layer.Name, "pool", [x]);
                    x = graph.Node("Flatten", layer.Name, "flatten", [x], new OnnxAttribute("axis", Int: 1));
                    nchw = false;
                    break;
                case "Flatten":
                    // Compiled flattens in (C, H, W) order: the ONNX Flatten of the NCHW image.
                    x = ToNchw(graph, layer, x, ref nchw);
                    x = graph.Node("Flatten", layer.Name, "flatten", [x], new OnnxAttribute("axis", Int: 1));
                    nchw = false;
                    break;
                case "Dropout":
                    break; // the identity when predicting
                case "SimpleRnn" or "Lstm" or "Gru":
                    x = Recurrent(graph, model, layer, x);
                    break;
                case "BatchNorm":
                    // Inference: the running statistics. After an image it normalises channels (NCHW's axis 1); after a
                    // flat layer, features ([N, C]): both are ONNX BatchNormalization's axis 1.
                    if (layer.InputShape.Length == 3) x = ToNchw(graph, layer, x, ref nchw);
                    x = graph.Node("BatchNormalization", layer.Name, "batchnorm",
                        [x, Weight(graph, model, layer, 0), Weight(graph, model, layer, 1), Buffer(graph, model, layer, 0), Buffer(graph, model, layer, 1)],
                        new OnnxAttribute("epsilon", Float: (float)layer.Epsilon));
                    x = Activate(graph, layer, x);
                    break;
                default:
                    throw new NotSupportedException(
                        $"Layer '{layer.Name}' ({layer.Kind}) has no ONNX form in Compiled.Onnx {OnnxExport.Opset.ToString(CultureInfo.InvariantCulture)}; it cannot be exported.");
            }
        }
        if (nchw) x = graph.Node("Transpose", "output", "nhwc", [x], new OnnxAttribute("perm", Ints: [0, 2, 3, 1]));

        const string output = "output";
        if (x == input) x = graph.Node("Identity", "output", "identity", [x]);
        OnnxNode last = graph.Nodes[^1];
        last.Output = output;

        long[] inputShape = Longs(layers[0].InputShape.AsSpan());
        long[] outputShape = Longs(layers[^1].OutputShape.AsSpan());
        string graphName = name ?? model.GetType().Name;
        return graph.ToModel(graphName, input, inputShape, output, outputShape,
            $"{graphName}, exported by Compiled.Onnx: {layers.Length.ToString(CultureInfo.InvariantCulture)} layers, loss {model.Loss}.");
    }

    /// <summary>The layer's <paramref name="index"/>-th parameter tensor as an initializer with its stored shape.</summary>
    private static string Weight(OnnxGraph graph, IModel model, LayerInfo layer, int index)
    {
        if (index >= layer.ParameterNames.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.Kind}) lists {layer.ParameterNames.Length} parameter tensors; the exporter needs {index + 1}.", nameof(model));
        string tensorName = layer.ParameterNames[index];
        foreach (TensorInfo tensor in model.Tensors)
        {
            if (tensor.Name != tensorName) continue;
            return graph.Constant(tensor.Name, model.Parameters.Slice(tensor.Offset, tensor.Length), Longs(tensor.Shape.AsSpan()));
        }
        throw new ArgumentException($"Layer '{layer.Name}' names the tensor '{tensorName}', which is not in the model's Tensors.", nameof(model));
    }

    /// <summary>
    /// A recurrent layer as ONNX's RNN / LSTM / GRU (sequence-first layout, the default every runtime supports): the input
    /// [N, T, F] is transposed to [T, N, F]; the weights go from PyTorch's gate order to ONNX's (LSTM i, f, g, o → i, o, f, c;
    /// GRU r, z, n → z, r, h, with <c>linear_before_reset = 1</c>, which is PyTorch's reset convention); the output is
    /// every step's h as [N, T, H], or the last step's as [N, H].
    /// </summary>
    private static string Recurrent(OnnxGraph graph, IModel model, LayerInfo layer, string x)
    {
        (string op, int[] order) = layer.Kind switch
        {
            "Lstm" => ("LSTM", new[] { 0, 3, 1, 2 }),
            "Gru" => ("GRU", new[] { 1, 0, 2 }),
            _ => ("RNN", new[] { 0 }),
        };
        int h = layer.Units;
        float[] wih = Reordered(model, layer, 0, order, h), whh = Reordered(model, layer, 1, order, h);
        float[] bih = Reordered(model, layer, 2, order, h), bhh = Reordered(model, layer, 3, order, h);
        int gates = order.Length * h;
        string w = graph.Constant(layer.Name + ".W", wih, 1, gates, wih.Length / gates);
        string r = graph.Constant(layer.Name + ".R", whh, 1, gates, h);
        string b = graph.Constant(layer.Name + ".B", [.. bih, .. bhh], 1, 2 * gates);
        string sequenceFirst = graph.Node("Transpose", layer.Name, "time_major", [x], new OnnxAttribute("perm", Ints: [1, 0, 2]));
        OnnxAttribute[] attributes = layer.Kind == "Gru"
            ? [new OnnxAttribute("hidden_size", Int: h), new OnnxAttribute("linear_before_reset", Int: 1)]
            : [new OnnxAttribute("hidden_size", Int: h)];
        // Outputs: Y [T, 1, N, H] (every step), Y_h [1, N, H] (the last step); LSTM's Y_c is not needed.
        string[] outputs = graph.Node(op, layer.Name, op.ToLowerInvariant(), [sequenceFirst, w, r, b],
            [layer.ReturnSequences, !layer.ReturnSequences], attributes);
        if (layer.ReturnSequences)
        {
            string batchFirst = graph.Node("Transpose", layer.Name, "batch_major", [outputs[0]], new OnnxAttribute("perm", Ints: [2, 0, 1, 3]));
            return graph.Node("Reshape", layer.Name, "sequence", [batchFirst, graph.Int64Constant(layer.Name + ".sequence_shape", 0, 0, h)]);
        }
        string last = graph.Node("Transpose", layer.Name, "batch_major", [outputs[1]], new OnnxAttribute("perm", Ints: [1, 0, 2]));
        return graph.Node("Reshape", layer.Name, "last", [last, graph.Int64Constant(layer.Name + ".last_shape", 0, h)]);
    }

    /// <summary>The layer's <paramref name="index"/>-th tensor with its blocks of <paramref name="h"/> rows (one per gate)
    /// in <paramref name="order"/>.</summary>
    private static float[] Reordered(IModel model, LayerInfo layer, int index, int[] order, int h)
    {
        string tensorName = layer.ParameterNames[index];
        foreach (TensorInfo tensor in model.Tensors)
        {
            if (tensor.Name != tensorName) continue;
            ReadOnlySpan<float> values = model.Parameters.Slice(tensor.Offset, tensor.Length);
            int block = values.Length / order.Length;
            var result = new float[values.Length];
            for (int k = 0; k < order.Length; k++) values.Slice(order[k] * block, block).CopyTo(result.AsSpan(k * block));
            return result;
        }
        throw new ArgumentException($"Layer '{layer.Name}' names the tensor '{tensorName}', which is not in the model's Tensors.", nameof(model));
    }

    /// <summary>A Dense layer's weight [units, in] transposed to [in, units], as MatMul takes it.</summary>
    private static string TransposedWeight(OnnxGraph graph, IModel model, LayerInfo layer)
    {
        string tensorName = layer.ParameterNames[0];
        foreach (TensorInfo tensor in model.Tensors)
        {
            if (tensor.Name != tensorName) continue;
            int rows = tensor.Shape[0], columns = tensor.Shape[1];
            ReadOnlySpan<float> w = model.Parameters.Slice(tensor.Offset, tensor.Length);
            var transposed = new float[w.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) transposed[c * rows + r] = w[r * columns + c];
            return graph.Constant(tensor.Name + ".T", transposed, [columns, rows]);
        }
        throw new ArgumentException($"Layer '{layer.Name}' names the tensor '{tensorName}', which is not in the model's Tensors.", nameof(model));
    }

    /// <summary>The layer's <paramref name="index"/>-th float buffer (running statistics) as an initializer.</summary>
    private static string Buffer(OnnxGraph graph, IModel model, LayerInfo layer, int index)
    {
        if (index >= layer.BufferNames.Length)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.Kind}) lists {layer.BufferNames.Length} buffers; the exporter needs {index + 1}.", nameof(model));
        string tensorName = layer.BufferNames[index];
        foreach (TensorInfo tensor in model.BufferTensors)
        {
            if (tensor.Name != tensorName || tensor.DataType != TensorDataType.Float32) continue;
            return graph.Constant(tensor.Name, model.Buffers.Slice(tensor.Offset, tensor.Length), Longs(tensor.Shape.AsSpan()));
        }
        throw new ArgumentException($"Layer '{layer.Name}' names the buffer '{tensorName}', which is not a float tensor of the model's BufferTensors.", nameof(model));
    }

    /// <summary>Transposes an NHWC image (as the model's input comes) to NCHW once; later layers keep NCHW.</summary>
    private static string ToNchw(OnnxGraph graph, LayerInfo layer, string x, ref bool nchw)
    {
        if (nchw) return x;
        if (layer.InputShape.Length != 3)
            throw new ArgumentException($"Layer '{layer.Name}' ({layer.Kind}) takes an input of rank {layer.InputShape.Length}; an image (height, width, channels) was expected.");
        nchw = true;
        return graph.Node("Transpose", layer.Name, "nchw", [x], new OnnxAttribute("perm", Ints: [0, 3, 1, 2]));
    }

    /// <summary>
    /// kernel_shape, strides and pads of a convolution or pooling window. Same padding splits the padding as Compiled
    /// (and Keras) do, with the odd row or column after the image: pads = [top, left, bottom, right].
    /// </summary>
    private static OnnxAttribute[] Window(LayerInfo layer)
    {
        int h = layer.InputShape[0], w = layer.InputShape[1];
        int oh = layer.OutputShape[0], ow = layer.OutputShape[1];
        int s = layer.Stride, kh = layer.KernelHeight, kw = layer.KernelWidth;
        long padH = 0, padW = 0, top = 0, left = 0;
        if (layer.Padding == Padding.Same)
        {
            padH = Math.Max((oh - 1) * s + kh - h, 0);
            padW = Math.Max((ow - 1) * s + kw - w, 0);
            top = padH / 2;
            left = padW / 2;
        }
        return
        [
            new OnnxAttribute("kernel_shape", Ints: [kh, kw]),
            new OnnxAttribute("strides", Ints: [s, s]),
            new OnnxAttribute("pads", Ints: [top, left, padH - top, padW - left]),
        ];
    }

    /// <summary>The layer's activation as ONNX operators after <paramref name="x"/>.</summary>
    private static string Activate(OnnxGraph graph, LayerInfo layer, string x) => layer.Activation switch
    {
        Activation.None => x,
        Activation.Relu => graph.Node("Relu", layer.Name, "relu", [x]),
        Activation.LeakyRelu => graph.Node("LeakyRelu", layer.Name, "leaky_relu", [x], new OnnxAttribute("alpha", Float: 0.01f)),
        Activation.Sigmoid => graph.Node("Sigmoid", layer.Name, "sigmoid", [x]),
        Activation.Tanh => graph.Node("Tanh", layer.Name, "tanh", [x]),
        Activation.Softmax => graph.Node("Softmax", layer.Name, "softmax", [x], new OnnxAttribute("axis", Int: -1)),
        Activation.Gelu => Gelu(graph, layer, x),
        _ => throw new NotSupportedException($"Layer '{layer.Name}' ({layer.Kind}) ends in {layer.Activation}, which has no ONNX form in Compiled.Onnx."),
    };

    /// <summary>GELU, tanh approximation, as the runtime computes it: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    private static string Gelu(OnnxGraph graph, LayerInfo layer, string x)
    {
        string n = layer.Name;
        string x2 = graph.Node("Mul", n, "gelu_x2", [x, x]);
        string x3 = graph.Node("Mul", n, "gelu_x3", [x2, x]);
        string ax3 = graph.Node("Mul", n, "gelu_ax3", [x3, graph.Scalar("gelu.a", 0.044715f)]);
        string inner = graph.Node("Add", n, "gelu_inner", [x, ax3]);
        string u = graph.Node("Mul", n, "gelu_u", [inner, graph.Scalar("gelu.c", 0.7978845608028654f)]);
        string t = graph.Node("Tanh", n, "gelu_tanh", [u]);
        string onePlus = graph.Node("Add", n, "gelu_1pt", [t, graph.Scalar("gelu.one", 1f)]);
        string half = graph.Node("Mul", n, "gelu_halfx", [x, graph.Scalar("gelu.half", 0.5f)]);
        return graph.Node("Mul", n, "gelu", [half, onePlus]);
    }

    private static long[] Longs(ReadOnlySpan<int> values)
    {
        var result = new long[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }
}
