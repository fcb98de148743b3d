using System;
using System.Collections.Generic;
using System.Globalization;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Layers;

/// <summary>
/// One row of the layer table: a layer attribute, how to read it, the shape rule, and how to lower it to ops.
/// A new layer is one file holding its row (a subclass of this), its <see cref="LayerSpec"/> record and its op, plus
/// one entry in <see cref="LayerTable"/>. Parser, checker, lowering and emitters know no layer by name.
/// </summary>
internal abstract class LayerKind
{
    /// <summary>The attribute's metadata name, e.g. <c>Compiled.DenseAttribute</c>.</summary>
    public abstract string AttributeName { get; }

    /// <summary>Reads the attribute's arguments; reports bad values through <paramref name="reader"/> and returns null.</summary>
    public abstract LayerSpec? Read(AttributeReader reader, int index, string? name);

    /// <summary>
    /// The output shape for <paramref name="input"/>, or null after reporting (through <paramref name="check"/>) why the
    /// layer cannot take that input.
    /// </summary>
    public abstract Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check);

    /// <summary>Adds the layer's parameters, buffers and ops to the plan.</summary>
    public abstract void Lower(LayerSpec layer, LoweringContext context);
}

/// <summary>Reads one attribute's arguments for a layer kind and collects its diagnostics.</summary>
internal sealed class AttributeReader
{
    private readonly AttributeData _data;
    private readonly List<DiagnosticInfo> _diagnostics;

    public AttributeReader(AttributeData data, LocationInfo? location, List<DiagnosticInfo> diagnostics)
    {
        _data = data;
        Location = location;
        _diagnostics = diagnostics;
    }

    public LocationInfo? Location { get; }

    /// <summary>The position of the constructor parameter named <paramref name="name"/> in the constructor used, or −1.</summary>
    public int Parameter(string name)
    {
        if (_data.AttributeConstructor is not { } ctor) return -1;
        for (int i = 0; i < ctor.Parameters.Length; i++)
            if (ctor.Parameters[i].Name == name) return i;
        return -1;
    }

    /// <summary>The constructor argument at <paramref name="index"/> as an int (default when absent).</summary>
    public int Int(int index, int fallback = 0)
        => index >= 0 && index < _data.ConstructorArguments.Length && _data.ConstructorArguments[index].Value is int i ? i : fallback;

    /// <summary>The constructor argument at <paramref name="index"/> as a double (ints widen).</summary>
    public double Double(int index, double fallback = 0)
        => index < _data.ConstructorArguments.Length ? AsDouble(_data.ConstructorArguments[index].Value, fallback) : fallback;

    /// <summary>The constructor argument at <paramref name="index"/> as a one- or two-element int array (<c>params int[]</c>), or an int.</summary>
    public int[] Ints(int index)
    {
        if (index >= _data.ConstructorArguments.Length) return Array.Empty<int>();
        TypedConstant argument = _data.ConstructorArguments[index];
        if (argument.Kind == TypedConstantKind.Array)
        {
            var values = new int[argument.Values.Length];
            for (int i = 0; i < values.Length; i++) values[i] = argument.Values[i].Value is int v ? v : 0;
            return values;
        }
        return new[] { argument.Value is int single ? single : 0 };
    }

    /// <summary>An enum constructor argument (its underlying int), checked to be a named value of <typeparamref name="TEnum"/>.</summary>
    public TEnum Enum<TEnum>(int index, TEnum fallback) where TEnum : struct, Enum
    {
        if (index < 0 || index >= _data.ConstructorArguments.Length || _data.ConstructorArguments[index].Value is not int value) return fallback;
        var result = (TEnum)(object)value;
        if (!System.Enum.IsDefined(typeof(TEnum), result))
        {
            Report(DiagnosticDescriptors.UnknownEnumValue, value.ToString(CultureInfo.InvariantCulture), typeof(TEnum).Name);
            return fallback;
        }
        return result;
    }

    /// <summary>A named argument (<c>Stride = 2</c>), or <paramref name="fallback"/> when it is not given.</summary>
    public T Named<T>(string name, T fallback)
    {
        foreach (KeyValuePair<string, TypedConstant> named in _data.NamedArguments)
        {
            if (named.Key != name) continue;
            object? value = named.Value.Value;
            if (typeof(T) == typeof(double)) return (T)(object)AsDouble(value, (double)(object)fallback!);
            return value is T typed ? typed : fallback;
        }
        return fallback;
    }

    /// <summary>A named enum argument, checked to be a named value.</summary>
    public TEnum NamedEnum<TEnum>(string name, TEnum fallback) where TEnum : struct, Enum
    {
        foreach (KeyValuePair<string, TypedConstant> named in _data.NamedArguments)
        {
            if (named.Key != name || named.Value.Value is not int value) continue;
            var result = (TEnum)(object)value;
            if (System.Enum.IsDefined(typeof(TEnum), result)) return result;
            Report(DiagnosticDescriptors.UnknownEnumValue, value.ToString(CultureInfo.InvariantCulture), typeof(TEnum).Name);
        }
        return fallback;
    }

    public void Report(DiagnosticDescriptor descriptor, params string[] args)
        => _diagnostics.Add(new DiagnosticInfo(descriptor.Id, Location, args.ToEquatableArray()));

    public bool HasErrors(int countBefore) => _diagnostics.Count > countBefore;

    public int DiagnosticCount => _diagnostics.Count;

    private static double AsDouble(object? value, double fallback) => value switch
    {
        double d => d,
        float f => f,
        int i => i,
        _ => fallback,
    };
}

/// <summary>Reports shape problems at the attribute of the layer being checked.</summary>
internal sealed class ShapeCheck
{
    private readonly List<DiagnosticInfo> _diagnostics;

    public ShapeCheck(List<DiagnosticInfo> diagnostics) => _diagnostics = diagnostics;

    public LocationInfo? Location { get; set; }

    /// <summary>Reports <paramref name="descriptor"/> at the current layer.</summary>
    public void Report(DiagnosticDescriptor descriptor, params string[] args)
        => _diagnostics.Add(new DiagnosticInfo(descriptor.Id, Location, args.ToEquatableArray()));

    /// <summary>CMP013 at the current layer: <paramref name="message"/> names the sizes and the fix.</summary>
    public void Mismatch(string message)
        => _diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.ShapeMismatch.Id, Location, new[] { message }.ToEquatableArray()));
}
