using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Compiled.Generator.Layers;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
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

        // The members every model gets, whatever its layers, against the class's name and members.
        var fixedMembers = Parser.GeneratedMembers.Select(m => new GeneratedName(m, null, "one of the members every model has")).ToList();
        CheckMembers(parsed, fixedMembers, diagnostics);

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
            layers.ToEquatableArray(), parsed.Loss.Value, parsed.Aliases, parsed.LossTarget)
        {
            EmptyPrimaryConstructor = parsed.EmptyPrimaryConstructor,
            NameIsShadowed = parsed.Members.Any(m => m.BaseType is not null && m.Name == parsed.ClassName),
        };

        // The plan's own sizes decide whether the arenas fit, and which members the generated code declares.
        ModelPlan plan = Lowering.Lower(spec);
        if (plan.Overflow)
        {
            Report(DiagnosticDescriptors.ModelTooLarge, parsed.ClassLocation, parsed.FullName, plan.RequestedFloats.ToString(CultureInfo.InvariantCulture),
                MaxArena.ToString(CultureInfo.InvariantCulture));
            return null;
        }
        int before = diagnostics.Count;
        List<GeneratedName> names = LayerNames(plan);
        CheckCollisions(parsed, names, diagnostics);
        if (diagnostics.Count == before) CheckMembers(parsed, names, diagnostics);
        return diagnostics.Count == before ? spec : null;
    }

    /// <summary>An identifier the generated files declare in the model class, the layer that makes it (null: every model),
    /// what it is, and whether the GPU twin's nested class declares it too (the views).</summary>
    private sealed record GeneratedName(string Name, string? Layer, string What, bool InTwin = false);

    /// <summary>
    /// The members of <c>Compiled.Gpu.GpuTwin</c> (and the twin's own fields), which the views the nested twin class
    /// declares must not hide. A test keeps the list in step with the real class.
    /// </summary>
    internal static readonly string[] TwinMembers =
    {
        "GpuTwin", "LossRingSize", "LossSlotSize", "Model", "Device", "Capacity", "Steps", "Parameters", "Gradients", "Workspace",
        "Inputs", "Targets", "EnqueueForward", "EnqueueGradients", "UploadParameters", "DownloadParameters", "DownloadGradients",
        "Forward", "ComputeGradients", "TrainStep", "ReadLosses", "Buffers", "DownloadBuffers", "Dispose", "Equals", "GetHashCode",
        "GetType", "ToString",
        "MemberwiseClone", "Finalize", "_model", "_k",
    };

    /// <summary>
    /// Every identifier the layers make in the model class, from the plan the emitters will write: the views of parameters,
    /// gradients and buffers, the static members ops declare, and the GPU twin's kernel methods (<c>Gpu&lt;Op&gt;&lt;Kernel&gt;</c>,
    /// checked whether or not the project references Compiled.Gpu, so a model does not break when it starts to).
    /// </summary>
    private static List<GeneratedName> LayerNames(ModelPlan plan)
    {
        var names = new List<GeneratedName>();
        foreach (ParameterTensor t in plan.Parameters)
        {
            names.Add(new GeneratedName(t.Property, t.Layer, $"the view of {t.Name}", InTwin: true));
            names.Add(new GeneratedName(t.GradProperty, t.Layer, $"the view of the gradient of {t.Name}", InTwin: true));
        }
        foreach (Buffer b in plan.Buffers)
            names.Add(new GeneratedName(b.Property, b.Layer, $"the view of {b.Description}", InTwin: true));
        foreach (ParameterTensor t in plan.BufferTensors)
            names.Add(new GeneratedName(t.Property, t.Layer, $"the view of the buffer {t.Name}", InTwin: true));
        // A model with a buffer arena (BatchNorm) also gets these members.
        if (plan.BufferTensors.Count > 0)
            foreach (string member in new[] { "Buffers", "BufferTensors", "BufferFloats", "s_buffers", "_buffers" })
                names.Add(new GeneratedName(member, null, "the model class"));
        foreach (Op op in plan.Ops)
        foreach (string declaration in op.Declarations())
        foreach (string name in DeclaredNames(declaration))
            names.Add(new GeneratedName(name, op.Name, "the geometry of " + op.Name));
        // The twin declares one kernel per distinct name: two ops must not make the same one.
        foreach (Op op in plan.Ops)
        {
            var steps = op.Forward(Pass.Inference).Concat(op.Forward(Pass.Training)).Concat(op.Backward(Target.Gpu)).Concat(op.Regularization());
            foreach (string kernel in steps.Where(s => s.Gpu is not null).Select(s => op.Pascal + s.Gpu!.Kernel).Distinct())
                names.Add(new GeneratedName("Gpu" + kernel, op.Name, $"the GPU kernel of {op.Name}"));
        }
        if (plan.Loss.Forward().Gpu is { } loss) names.Add(new GeneratedName("Gpu" + loss.Kernel, null, "the GPU kernel of the loss"));
        return names;
    }

    /// <summary>The names a member declaration declares (<c>private static readonly T s_x = ...;</c> → <c>s_x</c>).</summary>
    private static IEnumerable<string> DeclaredNames(string declaration) => SyntaxFactory.ParseMemberDeclaration(declaration) switch
    {
        BaseFieldDeclarationSyntax field => field.Declaration.Variables.Select(v => v.Identifier.ValueText),
        PropertyDeclarationSyntax property => new[] { property.Identifier.ValueText },
        MethodDeclarationSyntax method => new[] { method.Identifier.ValueText },
        _ => Enumerable.Empty<string>(),
    };

    /// <summary>
    /// Two layers must not make the same identifier (<c>Name = "a"</c>'s kernel <c>AActivationBackward</c> and
    /// <c>Name = "aActivation"</c>'s <c>Backward</c>), nor one the model or the GPU twin's base class has already: reported at
    /// the later layer.
    /// </summary>
    private static void CheckCollisions(ParsedModel parsed, List<GeneratedName> names, List<DiagnosticInfo> diagnostics)
    {
        var first = new Dictionary<string, GeneratedName>(System.StringComparer.Ordinal);
        foreach (string member in Parser.GeneratedMembers) first[member] = new GeneratedName(member, null, "the model class");
        var twin = new HashSet<string>(TwinMembers, System.StringComparer.Ordinal);
        var reported = new HashSet<string?>();
        foreach (GeneratedName name in names)
        {
            string? clash =
                first.TryGetValue(name.Name, out GeneratedName? earlier) ? (earlier.Layer is null ? earlier.What : $"layer '{earlier.Layer}'") :
                name.InTwin && twin.Contains(name.Name) ? "the GPU twin's base class Compiled.Gpu.GpuTwin" :
                null;
            if (clash is null)
            {
                first[name.Name] = name;
                continue;
            }
            if (!reported.Add(name.Layer)) continue;
            diagnostics.Add(new DiagnosticInfo(DiagnosticDescriptors.GeneratedNameCollision.Id, LayerLocation(parsed, name.Layer),
                new[] { name.Layer ?? parsed.ClassName, parsed.FullName, name.Name, clash }.ToEquatableArray()));
        }
    }

    /// <summary>
    /// The class's name, its own members and its bases' visible ones against the generated members: a member cannot have
    /// its class's name (CS0542), an own member would be declared twice, a base member would be hidden.
    /// </summary>
    private static void CheckMembers(ParsedModel parsed, List<GeneratedName> names, List<DiagnosticInfo> diagnostics)
    {
        void Report(DiagnosticDescriptor descriptor, LocationInfo? at, params string[] args)
            => diagnostics.Add(new DiagnosticInfo(descriptor.Id, at, args.ToEquatableArray()));

        var byName = new Dictionary<string, GeneratedName>(System.StringComparer.Ordinal);
        foreach (GeneratedName name in names)
            if (!byName.ContainsKey(name.Name)) byName.Add(name.Name, name);

        if (byName.TryGetValue(parsed.ClassName, out GeneratedName? same))
            Report(DiagnosticDescriptors.ClassNamedLikeGeneratedMember, parsed.ClassLocation, parsed.FullName, parsed.ClassName, same.What);

        var reportedBases = new HashSet<string>(System.StringComparer.Ordinal);
        foreach (ModelMember member in parsed.Members)
        {
            if (!byName.TryGetValue(member.Name, out GeneratedName? generated)) continue;
            string fix = generated.Layer is null ? "" : $", or give layer '{generated.Layer}' another Name";
            if (member.BaseType is null)
            {
                Report(DiagnosticDescriptors.UnsupportedType, member.At ?? parsed.ClassLocation, parsed.FullName, generated.Layer is null
                    ? $"its member '{member.Name}' clashes with the one Compiled generates; rename or remove it"
                    : $"its member '{member.Name}' clashes with {generated.What}, which Compiled generates; rename the member{fix}");
            }
            else if (reportedBases.Add(member.Name))
            {
                Report(DiagnosticDescriptors.BaseMemberClash, member.At ?? parsed.ClassLocation, parsed.FullName, member.BaseType, member.Name,
                    generated.Layer is null ? "the member of that name" : generated.What, fix);
            }
        }
    }

    /// <summary>The attribute of the layer named <paramref name="layer"/> (the class when null or not found).</summary>
    private static LocationInfo? LayerLocation(ParsedModel parsed, string? layer)
    {
        for (int i = 0; i < parsed.Layers.Count; i++)
            if (parsed.Layers[i].LayerName == layer) return parsed.LayerLocations[i];
        return parsed.ClassLocation;
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
