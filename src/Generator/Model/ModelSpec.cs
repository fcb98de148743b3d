using System;

namespace Compiled.Generator.Model;

/// <summary>
/// What the parser reads off one model class: its name, where it lives, and its layers in source order.
/// Immutable and compared by value (the incremental pipeline caches on it); holds no symbol, syntax or location
/// object, only data.
/// </summary>
internal sealed record ModelSpec(
    string? Namespace,
    EquatableArray<string> ContainingTypes,
    string ClassName,
    string FullName,
    EquatableArray<int> InputShape,
    EquatableArray<LayerSpec> Layers,
    Loss Loss,
    LocationInfo? LossLocation);

/// <summary>The kind of a layer attribute.</summary>
internal enum LayerKind
{
    Dense,
}

/// <summary>One layer attribute, as written. <see cref="Index"/> counts layers from 0 in source order.</summary>
internal sealed record LayerSpec(
    LayerKind Kind,
    int Index,
    int Units,
    Activation Activation,
    string? Name,
    double L2,
    LocationInfo? Location);

/// <summary>The parser's result for one class: a model when it is valid, and the diagnostics either way.</summary>
internal sealed record ModelResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics, string HintName);
