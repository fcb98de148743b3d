using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Compiled.Generator.Layers;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using Microsoft.CodeAnalysis;
using static Compiled.Generator.Naming;

namespace Compiled.Generator;

/// <summary>
/// The second stage, between parsing and lowering: infers every layer's input and output shape through its row of the
/// <see cref="LayerTable"/>, checks that the loss fits the output, that every arena stays addressable and that no
/// generated member clashes with the user's, and reports each problem at the attribute (or class) that causes it.
/// Returns the checked <see cref="ModelSpec"/>, or null when anything was reported.
/// </summary>
internal static class Checker
{
    /// <summary>The largest arena, in floats: a .NET array of float, indexed by int.</summary>
    public const long MaxArena = 0x7FFFFFC7;

    public static ModelSpec? Check(ParsedModel parsed, List<DiagnosticInfo> diagnostics)
    {
        void Report(DiagnosticDescriptor descriptor, LocationInfo? at, params string[] args)
            => diagnostics.Add(new DiagnosticInfo(descriptor.Id, at, args.ToEquatableArray()));

        // Shapes, layer by layer, while the chain holds.
        var layers = new List<LayerSpec>();
        if (parsed.InputShape is { } shape)
        {
            var check = new ShapeCheck(diagnostics);
            for (int i = 0; i < parsed.Layers.Count; i++)
            {
                LayerSpec layer = parsed.Layers[i];
                check.Location = parsed.LayerLocations[i];
                Shape? output = LayerTable.Kind(layer).InferShape(layer, shape, check);
                if (output is not { } next) break;
                if (next.Size <= 0)
                {
                    check.Mismatch($"{layer.Kind} layer {Int(layer.Index)} maps {shape} to an empty output ({next}); use a smaller kernel, stride or pool, or a larger input");
                    break;
                }
                if (next.Size > MaxArena)
                {
                    Report(DiagnosticDescriptors.ModelTooLarge, parsed.ClassLocation, parsed.FullName, next.Size.ToString(CultureInfo.InvariantCulture),
                        MaxArena.ToString(CultureInfo.InvariantCulture));
                    break;
                }
                layers.Add(layer with { Input = shape, Output = next });
                shape = next;
            }
        }

        // The loss against the last layer (its activation is known even when the shapes are not).
        if (parsed.Loss is { } loss && parsed.Layers.Count > 0)
        {
            LayerSpec last = parsed.Layers[parsed.Layers.Count - 1];
            // Per step for a sequence output (T, C): the classes are C.
            long? outputs = layers.Count != parsed.Layers.Count ? null
                : layers[layers.Count - 1].Output is { Rank: 2 } sequence ? sequence[1] : layers[layers.Count - 1].Output.Size;
            if (LossProblem(loss, last.OutputActivation ?? Activation.None, outputs) is { } problem)
                Report(DiagnosticDescriptors.LossDoesNotFitOutput, parsed.LossLocation, loss.ToString(), parsed.FullName, problem);
        }

        // An autoencoder's output is compared with its input: same size, and a loss with one target per output.
        if (parsed.LossTarget == LossTarget.Input && parsed.Loss is { } reconstructed)
        {
            if (reconstructed == Loss.SparseCategoricalCrossEntropy)
                Report(DiagnosticDescriptors.ReconstructionNeedsDenseTargets, parsed.LossLocation, parsed.FullName, reconstructed.ToString());
            else if (parsed.InputShape is { } inputShape && layers.Count == parsed.Layers.Count && layers.Count > 0
                && layers[layers.Count - 1].Output is var outputShape && outputShape.Size != inputShape.Size)
                Report(DiagnosticDescriptors.ReconstructionSizeMismatch, parsed.LossLocation, parsed.FullName,
                    inputShape.Size.ToString(CultureInfo.InvariantCulture), inputShape.Bracketed,
                    outputShape.Size.ToString(CultureInfo.InvariantCulture), outputShape.Bracketed);
        }

        if (diagnostics.Count > 0 || parsed.InputShape is null || parsed.Loss is null || layers.Count != parsed.Layers.Count) return null;
        var spec = new ModelSpec(parsed.Namespace, parsed.ContainingTypes, parsed.ClassName, parsed.FullName, parsed.InputShape.Value,
            layers.ToEquatableArray(), parsed.Loss.Value, parsed.Aliases, parsed.LossTarget);

        // The plan's own sizes decide whether the arenas fit, and which members the generated code declares.
        ModelPlan plan = Lowering.Lower(spec);
        if (plan.Overflow)
        {
            Report(DiagnosticDescriptors.ModelTooLarge, parsed.ClassLocation, parsed.FullName, plan.RequestedFloats.ToString(CultureInfo.InvariantCulture),
                MaxArena.ToString(CultureInfo.InvariantCulture));
            return null;
        }
        var generated = new HashSet<string>(plan.Parameters.SelectMany(p => new[] { p.Property, p.GradProperty })
            .Concat(plan.Buffers.Select(b => b.Property)).Concat(plan.BufferTensors.Select(b => b.Property)), System.StringComparer.Ordinal);
        // A model with a buffer arena (BatchNorm) also gets these members.
        if (plan.BufferTensors.Count > 0) generated.UnionWith(new[] { "Buffers", "BufferTensors", "BufferFloats", "s_buffers", "_buffers" });
        foreach (string member in parsed.MemberNames)
        {
            if (!generated.Contains(member)) continue;
            Report(DiagnosticDescriptors.UnsupportedType, parsed.ClassLocation, parsed.FullName,
                $"its member '{member}' clashes with the view Compiled generates for a layer's tensor; rename the member or give the layer another Name");
            return null;
        }
        return spec;
    }

    private static string? LossProblem(Loss loss, Activation last, long? outputs) => loss switch
    {
        Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy when last != Activation.Softmax =>
            $"it needs a Softmax output, but the last layer's activation is {last}; end with a Softmax layer, e.g. [Dense({(outputs ?? 10).ToString(CultureInfo.InvariantCulture)}, Activation.Softmax)]",
        Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy when outputs < 2 =>
            $"it needs at least 2 classes, but the last layer has {outputs.Value.ToString(CultureInfo.InvariantCulture)} unit; for two classes use 2 Softmax units, or 1 Sigmoid unit with Loss.BinaryCrossEntropy",
        Loss.BinaryCrossEntropy when last != Activation.Sigmoid =>
            $"it needs a Sigmoid output, but the last layer's activation is {last}; end with a Sigmoid layer, e.g. [Dense({(outputs ?? 1).ToString(CultureInfo.InvariantCulture)}, Activation.Sigmoid)]",
        _ => null,
    };
}
