using System;
using System.Globalization;
using System.Linq;

namespace Compiled.Generator.Model;

/// <summary>
/// A checked model: its name, where it lives, the shape of one input sample, its layers in source order (each with its
/// inferred input and output shapes) and its loss. Immutable and compared by value (the incremental pipeline caches on
/// it); it holds no symbol, syntax or location, so editing whitespace above the class leaves it equal and the emit step
/// cached. Diagnostics travel beside it, in <see cref="ModelResult"/>. <see cref="LossTarget"/> says whether the loss
/// compares the output with the data set's targets or with the model's own input (an autoencoder).
/// </summary>
internal sealed record ModelSpec(
    string? Namespace,
    EquatableArray<string> ContainingTypes,
    string ClassName,
    string FullName,
    Shape InputShape,
    EquatableArray<LayerSpec> Layers,
    Loss Loss,
    Aliases Aliases,
    LossTarget LossTarget = LossTarget.Targets)
{
    /// <summary>The class declares <c>M()</c> as its primary constructor, which the generated constructor calls.</summary>
    public bool EmptyPrimaryConstructor { get; init; }

    /// <summary>
    /// A base class has a member of the class's own name (a nested type <c>Gpu</c> in the base of model <c>Gpu</c>), which
    /// the plain name would mean inside the class: generated code then names the class from <c>global::</c>.
    /// </summary>
    public bool NameIsShadowed { get; init; }

    /// <summary>How generated code inside the class names its type: <c>MnistMlp</c>, or <c>global::Demo.Outer.MnistMlp</c>.</summary>
    public string SelfType => !NameIsShadowed ? Naming.EscapeType(ClassName)
        : "global::" + string.Join(".", (Namespace is null ? Array.Empty<string>() : new[] { Naming.EscapeNamespace(Namespace) })
            .Concat(ContainingTypes.Select(t => t.Substring(t.LastIndexOf(' ') + 1))).Concat(new[] { Naming.EscapeType(ClassName) }));
}

/// <summary>
/// The short names generated files give the runtime namespaces (<c>using Cpu = global::Compiled.CompilerServices;</c>),
/// chosen so that no type the model class can see has the same name.
/// </summary>
internal sealed record Aliases(string Cpu, string Gpu, string View)
{
    public static readonly Aliases Default = new("Cpu", "Gpu", "View");
}

/// <summary>
/// The shape of one sample of a tensor, outermost first: <c>(784)</c>, images <c>(H, W, C)</c> (channels last, as
/// Keras), sequences <c>(T)</c> or <c>(T, F)</c>. The batch is never part of it.
/// </summary>
internal readonly struct Shape : IEquatable<Shape>
{
    public Shape(params int[] dims) => Dims = dims.ToEquatableArray();

    public EquatableArray<int> Dims { get; }

    public int Rank => Dims.Count;

    public int this[int axis] => Dims[axis];

    /// <summary>Floats per sample (saturates at <see cref="long.MaxValue"/> rather than overflowing).</summary>
    public long Size
    {
        get
        {
            long n = 1;
            foreach (int d in Dims) n = d <= 0 ? 0 : n > long.MaxValue / d ? long.MaxValue : n * d;
            return n;
        }
    }

    /// <summary>As written in messages: <c>28x28x1</c>.</summary>
    public override string ToString() => string.Join("x", Dims.Select(d => d.ToString(CultureInfo.InvariantCulture)));

    /// <summary>As written in comments: <c>[28, 28, 1]</c>.</summary>
    public string Bracketed => "[" + string.Join(", ", Dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    public bool Equals(Shape other) => Dims.Equals(other.Dims);

    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    public override int GetHashCode() => Dims.GetHashCode();
}

/// <summary>
/// One layer attribute as read (a row of the layer table reads it): its place among the layers, its optional
/// <c>Name</c>, and, once checked, the shapes it maps. Each layer kind derives a record holding its own arguments.
/// </summary>
internal abstract record LayerSpec(int Index, string? Name)
{
    /// <summary>The shape of one input sample, set by the check stage.</summary>
    public Shape Input { get; init; }

    /// <summary>The shape of one output sample, set by the check stage.</summary>
    public Shape Output { get; init; }

    /// <summary>The checkpoint prefix: the layer's Name, or PyTorch's <c>layers.N</c>.</summary>
    public string LayerName => Name ?? "layers." + Index.ToString(CultureInfo.InvariantCulture);

    /// <summary>The layer table's name for the kind (<c>Dense</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>The activation the layer applies last, if any (the loss checks the model's last one).</summary>
    public virtual Activation? OutputActivation => null;
}

/// <summary>The result for one class: a model when it is valid, and the diagnostics either way.</summary>
internal sealed record ModelResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics, string HintName);
