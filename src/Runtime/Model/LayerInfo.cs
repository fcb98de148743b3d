using System.Collections.Immutable;

namespace Compiled;

/// <summary>
/// One layer of a compiled model as the generator saw it: its kind, name, activation, shapes, parameters and settings.
/// The generator writes these as constants (no reflection), so tools such as <see cref="ModelSummary"/> and the ONNX
/// exporter read a model's structure from <see cref="IModel.Layers"/>. Immutable: its arrays are copies.
/// </summary>
/// <param name="Kind">The layer attribute's name without <c>Attribute</c>: <c>Dense</c>, <c>Conv2D</c>, <c>MaxPool2D</c>,
/// <c>AvgPool2D</c>, <c>GlobalAveragePool2D</c>, <c>Flatten</c>, <c>Dropout</c>, <c>BatchNorm</c>, <c>Embedding</c>, <c>SimpleRnn</c>, <c>Lstm</c>, <c>Gru</c>.</param>
/// <param name="Name">The checkpoint prefix of its tensors (<c>layers.0</c>, or the layer's <c>Name</c>).</param>
/// <param name="Activation">The activation it applies last (<see cref="Activation.None"/> for layers without one).</param>
/// <param name="InputShape">The shape of one input sample, images as (height, width, channels).</param>
/// <param name="OutputShape">The shape of one output sample.</param>
/// <param name="ParameterNames">The names of its tensors in <see cref="IModel.Tensors"/> (weight first, then bias).</param>
/// <param name="ParameterCount">The number of floats in those tensors.</param>
public sealed record LayerInfo(string Kind, string Name, Activation Activation, ImmutableArray<int> InputShape,
    ImmutableArray<int> OutputShape, ImmutableArray<string> ParameterNames, int ParameterCount)
{
    /// <summary>Dense and the recurrent layers: the number of outputs (units); Embedding: the vector width (0 for other kinds).</summary>
    public int Units { get; init; }

    /// <summary>Conv2D: the number of filters (0 for other kinds).</summary>
    public int Filters { get; init; }

    /// <summary>Conv2D and pooling: the window's height (0 for other kinds).</summary>
    public int KernelHeight { get; init; }

    /// <summary>Conv2D and pooling: the window's width (0 for other kinds).</summary>
    public int KernelWidth { get; init; }

    /// <summary>Conv2D and pooling: the stride along both axes (0 for other kinds).</summary>
    public int Stride { get; init; }

    /// <summary>Conv2D and pooling: how the window treats the border.</summary>
    public Padding Padding { get; init; }

    /// <summary>Dense and Conv2D: whether the layer adds a bias.</summary>
    public bool UseBias { get; init; }

    /// <summary>Dropout: the fraction of elements dropped in training (0 for other kinds).</summary>
    public double Rate { get; init; }

    /// <summary>BatchNorm: the weight of the new batch in the running statistics' update (PyTorch's <c>momentum</c>).</summary>
    public double Momentum { get; init; }

    /// <summary>BatchNorm: the constant added to the variance (PyTorch's <c>eps</c>).</summary>
    public double Epsilon { get; init; }

    /// <summary>BatchNorm: the names of its non-trainable tensors in <see cref="IModel.BufferTensors"/> (running mean,
    /// running variance, batch counter); empty for other kinds.</summary>
    public ImmutableArray<string> BufferNames { get; init; } = ImmutableArray<string>.Empty;

    /// <summary>SimpleRnn, Lstm and Gru: whether the layer outputs every step's hidden state (else the last step's).</summary>
    public bool ReturnSequences { get; init; }

    /// <summary>Embedding: the number of token ids (0 for other kinds); its <see cref="Units"/> is the vector width.</summary>
    public int Vocabulary { get; init; }

    /// <summary>Equal when every field and every element of the arrays are.</summary>
    public bool Equals(LayerInfo? other) =>
        other is not null && Kind == other.Kind && Name == other.Name && Activation == other.Activation &&
        InputShape.AsSpan().SequenceEqual(other.InputShape.AsSpan()) && OutputShape.AsSpan().SequenceEqual(other.OutputShape.AsSpan()) &&
        ParameterNames.AsSpan().SequenceEqual(other.ParameterNames.AsSpan()) && ParameterCount == other.ParameterCount &&
        Units == other.Units && Filters == other.Filters && KernelHeight == other.KernelHeight && KernelWidth == other.KernelWidth &&
        Stride == other.Stride && Padding == other.Padding && UseBias == other.UseBias && Rate.Equals(other.Rate) &&
        Vocabulary == other.Vocabulary && ReturnSequences == other.ReturnSequences && Momentum.Equals(other.Momentum) && Epsilon.Equals(other.Epsilon) && BufferNames.AsSpan().SequenceEqual(other.BufferNames.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Kind);
        hash.Add(Name);
        hash.Add(Activation);
        foreach (int d in InputShape) hash.Add(d);
        foreach (int d in OutputShape) hash.Add(d);
        foreach (string p in ParameterNames) hash.Add(p);
        hash.Add(ParameterCount);
        hash.Add(Units);
        hash.Add(Filters);
        hash.Add(KernelHeight);
        hash.Add(KernelWidth);
        hash.Add(Stride);
        hash.Add(Padding);
        hash.Add(UseBias);
        hash.Add(Rate);
        hash.Add(Vocabulary);
        hash.Add(ReturnSequences);
        hash.Add(Momentum);
        hash.Add(Epsilon);
        foreach (string b in BufferNames) hash.Add(b);
        return hash.ToHashCode();
    }
}
