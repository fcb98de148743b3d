using System.Collections.Generic;
using System.Linq;
using Compiled.Generator.Model;

namespace Compiled.Generator.Layers;

/// <summary>
/// The layer table: every layer attribute the generator knows, each row reading its attribute, checking its shape and
/// lowering itself. Adding a layer adds one row here.
/// </summary>
internal static class LayerTable
{
    public static readonly LayerKind[] Rows =
    {
        DenseLayer.Instance,
        DropoutLayer.Instance,
        Conv2DLayer.Instance,
        Pool2DLayer.MaxInstance,
        Pool2DLayer.AvgInstance,
        GlobalAveragePool2DLayer.Instance,
        FlattenLayer.Instance,
        BatchNormLayer.Instance,
        RecurrentLayer.SimpleRnnInstance,
        RecurrentLayer.LstmInstance,
        RecurrentLayer.GruInstance,
        EmbeddingLayer.Instance,
    };

    private static readonly Dictionary<string, LayerKind> s_byAttribute = Rows.ToDictionary(r => r.AttributeName);

    // "Compiled.DenseAttribute" → "Dense", the LayerSpec.Kind of the records the row reads.
    private static readonly Dictionary<string, LayerKind> s_byKind =
        Rows.ToDictionary(r => r.AttributeName.Substring("Compiled.".Length, r.AttributeName.Length - "Compiled.".Length - "Attribute".Length));

    /// <summary>The row for an attribute's metadata name, or null when it is not a layer.</summary>
    public static LayerKind? ByAttribute(string attributeName)
        => s_byAttribute.TryGetValue(attributeName, out LayerKind? kind) ? kind : null;

    /// <summary>The row that read <paramref name="layer"/>.</summary>
    public static LayerKind Kind(LayerSpec layer) => s_byKind[layer.Kind];

    /// <summary>The metadata names of every layer attribute.</summary>
    public static IEnumerable<string> AttributeNames => s_byAttribute.Keys;
}
