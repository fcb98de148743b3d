using System.Buffers.Binary;

namespace Compiled.Onnx;

/// <summary>An attribute of a node (<c>AttributeProto</c>): an int, a float or a list of ints.</summary>
internal sealed record OnnxAttribute(string Name, long? Int = null, float? Float = null, long[]? Ints = null)
{
    // AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20 (FLOAT = 1, INT = 2, INTS = 7).
    public void Write(ProtoWriter w)
    {
        w.String(1, Name);
        if (Float is float f) { w.Float(2, f); w.Int(20, 1); }
        else if (Int is long i) { w.Int(3, i); w.Int(20, 2); }
        else { w.PackedInts(8, Ints ?? []); w.Int(20, 7); }
    }
}

/// <summary>One operator application (<c>NodeProto</c>).</summary>
internal sealed record OnnxNode(string OpType, string Name, string[] Inputs, string Output, OnnxAttribute[] Attributes)
{
    /// <summary>Outputs after the first (an empty name leaves an optional output out).</summary>
    public string[] MoreOutputs { get; init; } = [];

    /// <summary>Set when the graph renames its last value to the model's output.</summary>
    public string Output { get; set; } = Output;

    // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
    public void Write(ProtoWriter w)
    {
        foreach (string input in Inputs) w.String(1, input);
        w.String(2, Output);
        foreach (string output in MoreOutputs) w.String(2, output);
        w.String(3, Name);
        w.String(4, OpType);
        foreach (OnnxAttribute attribute in Attributes) w.Message(5, attribute.Write);
    }
}

/// <summary>A constant tensor of the graph (<c>TensorProto</c>): float weights or int64 shape data.</summary>
internal sealed class OnnxInitializer
{
    private const int FloatType = 1, Int64Type = 7;

    private readonly long[] _dims;
    private readonly byte[] _raw;
    private readonly int _type;

    private OnnxInitializer(string name, long[] dims, byte[] raw, int type)
    {
        Name = name;
        _dims = dims;
        _raw = raw;
        _type = type;
    }

    public string Name { get; }

    public static OnnxInitializer Floats(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        return new OnnxInitializer(name, dims, raw, FloatType);
    }

    public static OnnxInitializer Int64s(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var raw = new byte[values.Length * sizeof(long)];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), values[i]);
        return new OnnxInitializer(name, dims, raw, Int64Type);
    }

    // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian, as the format requires).
    public void Write(ProtoWriter w)
    {
        w.PackedInts(1, _dims);
        w.Int(2, _type);
        w.String(8, Name);
        w.Bytes(9, _raw);
    }
}

/// <summary>
/// A graph under construction: nodes in order, constant tensors, and unique value names. Values are named after the layer
/// and the step that makes them (<c>layers.0/conv</c>), so a viewer such as Netron shows the model's own layer names.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxInitializer> _initializers = [];
    private readonly HashSet<string> _names = [];

    public IReadOnlyList<OnnxNode> Nodes => _nodes;

    /// <summary>Adds a node and returns the name of its output value.</summary>
    public string Node(string opType, string layer, string step, string[] inputs, params OnnxAttribute[] attributes)
    {
        string name = Unique($"{layer}/{step}");
        _nodes.Add(new OnnxNode(opType, name, inputs, name, attributes));
        return name;
    }

    /// <summary>Adds a node with several outputs (named <c>step.k</c>; an output not <paramref name="wanted"/> is left
    /// out, as ONNX allows for optional ones) and returns their names, empty for those left out.</summary>
    public string[] Node(string opType, string layer, string step, string[] inputs, bool[] wanted, params OnnxAttribute[] attributes)
    {
        string name = Unique($"{layer}/{step}");
        var outputs = new string[wanted.Length];
        for (int k = 0; k < wanted.Length; k++) outputs[k] = wanted[k] ? Unique($"{name}.{k}") : "";
        _nodes.Add(new OnnxNode(opType, name, inputs, outputs[0], attributes) { MoreOutputs = outputs[1..] });
        return outputs;
    }

    /// <summary>Adds an int64 constant (a shape for Reshape) and returns its name.</summary>
    public string Int64Constant(string name, params long[] values)
    {
        name = Unique(name);
        _initializers.Add(OnnxInitializer.Int64s(name, values, values.Length));
        return name;
    }

    /// <summary>Adds a float constant and returns its name.</summary>
    public string Constant(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        name = Unique(name);
        _initializers.Add(OnnxInitializer.Floats(name, values, dims));
        return name;
    }

    /// <summary>A scalar float constant (shape []), shared by name.</summary>
    public string Scalar(string name, float value)
    {
        if (_names.Contains(name)) return name;
        return Constant(name, [value]);
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int i = 1; !_names.Add(candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    /// <summary>
    /// The <c>ModelProto</c>: IR version 8 with operator set 17 of the default domain, the graph with one float input and
    /// one float output whose first dimension is the symbolic <c>batch</c>.
    /// </summary>
    public byte[] ToModel(string graphName, string input, long[] inputShape, string output, long[] outputShape, string docString)
    {
        var model = new ProtoWriter();
        // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7, opset_import = 8.
        model.Int(1, OnnxExport.IrVersion);
        model.String(2, "Compiled.Onnx");
        model.String(3, "0.1.0");
        model.String(6, docString);
        model.Message(7, graph =>
        {
            // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
            foreach (OnnxNode node in _nodes) graph.Message(1, node.Write);
            graph.String(2, graphName);
            foreach (OnnxInitializer initializer in _initializers) graph.Message(5, initializer.Write);
            graph.Message(11, v => ValueInfo(v, input, inputShape));
            graph.Message(12, v => ValueInfo(v, output, outputShape));
        });
        // OperatorSetIdProto: domain = 1 (empty: ai.onnx), version = 2.
        model.Message(8, opset => opset.Int(2, OnnxExport.Opset));
        return model.Written.ToArray();
    }

    // ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: { elem_type = 1, shape = 2: { dim = 1 } } } };
    // Dimension: dim_value = 1, dim_param = 2. The batch is dimension 0 and symbolic.
    private static void ValueInfo(ProtoWriter w, string name, long[] shape)
    {
        w.String(1, name);
        w.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Int(1, 1);
            tensor.Message(2, dims =>
            {
                dims.Message(1, d => d.String(2, "batch"));
                foreach (long size in shape) dims.Message(1, d => d.Int(1, size));
            });
        }));
    }
}
