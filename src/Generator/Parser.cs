using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using Compiled.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Compiled.Generator;

/// <summary>
/// Reads a model class's attributes into a <see cref="ModelSpec"/> and checks it. Layer order comes from the
/// syntax (the order of the attributes in the class declaration), arguments from the semantic model.
/// Every problem becomes a <see cref="DiagnosticInfo"/>; nothing here throws on bad input.
/// </summary>
internal static class Parser
{
    public const string InputAttribute = "Compiled.InputAttribute";
    public const string DenseAttribute = "Compiled.DenseAttribute";
    public const string LossAttribute = "Compiled.LossAttribute";

    /// <summary>The layer attributes, whose order is the model's order.</summary>
    private static readonly string[] s_layerAttributes = { InputAttribute, DenseAttribute };

    /// <summary>
    /// The attributes the generator is triggered by, most decisive first. A class is parsed once, by the first
    /// of these it carries, so a model with [Input] and [Loss] is not reported twice.
    /// </summary>
    public static readonly string[] TriggerAttributes = { InputAttribute, LossAttribute, DenseAttribute };

    /// <summary>
    /// Parses the class <paramref name="context"/> points at, when <paramref name="trigger"/> is the attribute
    /// responsible for it (see <see cref="TriggerAttributes"/>); otherwise returns null.
    /// </summary>
    public static ModelResult? Parse(GeneratorAttributeSyntaxContext context, string trigger, CancellationToken ct)
    {
        // Structs and interfaces cannot carry the attributes (the compiler says so); records are reported below.
        if (context.TargetSymbol is not INamedTypeSymbol { TypeKind: TypeKind.Class } type || type.Name.Length == 0) return null;
        if (context.TargetNode is TypeDeclarationSyntax { Identifier.IsMissing: true }) return null;
        if (!IsResponsible(type, context.TargetNode, trigger, ct)) return null;

        string fullName = type.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat);
        string hintName = HintName(type);
        try
        {
            return new Run(type, fullName, hintName, ct).Execute();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var diagnostic = new DiagnosticInfo(DiagnosticDescriptors.InternalError.Id,
                (context.TargetNode as TypeDeclarationSyntax) is { } declaration ? LocationInfo.From(declaration.Identifier) : null,
                new[] { fullName, e.GetType().Name + ": " + e.Message }.ToEquatableArray());
            return new ModelResult(null, new[] { diagnostic }.ToEquatableArray(), hintName);
        }
    }

    private static bool IsResponsible(INamedTypeSymbol type, SyntaxNode target, string trigger, CancellationToken ct)
    {
        // A more decisive trigger attribute on the class takes the class instead.
        foreach (string other in TriggerAttributes)
        {
            if (other == trigger) break;
            if (type.GetAttributes().Any(a => Is(a, other))) return false;
        }
        // A partial class can carry the trigger on several declarations: the first one parses.
        foreach (AttributeData attribute in type.GetAttributes())
        {
            if (!Is(attribute, trigger)) continue;
            SyntaxNode? node = attribute.ApplicationSyntaxReference?.GetSyntax(ct);
            TypeDeclarationSyntax? declaration = node?.FirstAncestorOrSelf<TypeDeclarationSyntax>();
            return declaration == target;
        }
        return false;
    }

    private static bool Is(AttributeData attribute, string metadataName)
        => attribute.AttributeClass?.ToDisplayString() == metadataName;

    private static string HintName(INamedTypeSymbol type)
    {
        var builder = new StringBuilder(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", ""));
        foreach (char c in new[] { '<', '>', ',', ' ' }) builder.Replace(c, '_');
        return builder.Append(".g.cs").ToString();
    }

    /// <summary>The largest arena, in floats: a .NET array of float, indexed by int.</summary>
    private const long MaxArena = 0x7FFFFFC7;

    /// <summary>Members the generator writes; a user member with one of these names would clash.</summary>
    private static readonly string[] s_generatedMembers =
    {
        "InputSize", "OutputSize", "TargetSize", "ParameterCount", "WorkspacePerSample", "Loss", "Parameters", "Gradients",
        "Tensors", "Initialize", "Forward", "ComputeGradients", "Load", "EnsureCapacity",
        "s_tensors", "_parameters", "_gradients", "_workspace", "_capacity",
    };

    /// <summary>One parse of one class.</summary>
    private sealed class Run
    {
        private readonly INamedTypeSymbol _type;
        private readonly string _fullName;
        private readonly string _hintName;
        private readonly CancellationToken _ct;
        private readonly List<DiagnosticInfo> _diagnostics = new();

        public Run(INamedTypeSymbol type, string fullName, string hintName, CancellationToken ct)
        {
            _type = type;
            _fullName = fullName;
            _hintName = hintName;
            _ct = ct;
        }

        private void Report(DiagnosticDescriptor descriptor, SyntaxNode? at, params string[] args)
            => Report(descriptor, LocationInfo.From(at), args);

        private void Report(DiagnosticDescriptor descriptor, LocationInfo? at, params string[] args)
            => _diagnostics.Add(new DiagnosticInfo(descriptor.Id, at, args.ToEquatableArray()));

        private ModelResult Result(ModelSpec? model) => new(
            _diagnostics.Count == 0 ? model : null, _diagnostics.ToEquatableArray(), _hintName);

        public ModelResult Execute()
        {
            var declarations = _type.DeclaringSyntaxReferences
                .Select(r => r.GetSyntax(_ct)).OfType<TypeDeclarationSyntax>().ToList();
            LocationInfo? classAt = declarations.Count > 0 ? ClassIdentifier(declarations[0]) : null;

            CheckType(declarations, classAt);

            // Every Compiled attribute on the class, with its syntax.
            var attributes = new List<(AttributeData Data, AttributeSyntax Syntax, TypeDeclarationSyntax Declaration)>();
            foreach (AttributeData data in _type.GetAttributes())
            {
                string? name = data.AttributeClass?.ToDisplayString();
                if (name is not (InputAttribute or DenseAttribute or LossAttribute)) continue;
                if (data.ApplicationSyntaxReference?.GetSyntax(_ct) is not AttributeSyntax syntax) continue;
                if (syntax.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not { } declaration) continue;
                // Arguments the compiler could not bind: it reports them itself.
                if (data.AttributeConstructor is null
                    || data.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
                    || data.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error))
                    return Result(null);
                attributes.Add((data, syntax, declaration));
            }

            var layerAttributes = attributes.Where(a => s_layerAttributes.Contains(a.Data.AttributeClass!.ToDisplayString())).ToList();
            var layerDeclarations = layerAttributes.Select(a => a.Declaration).Distinct().ToList();
            if (layerDeclarations.Count > 1)
            {
                Report(DiagnosticDescriptors.LayersSplitOverPartials, ClassIdentifier(layerDeclarations[1]), _fullName);
                return Result(null);
            }
            layerAttributes.Sort((a, b) => a.Syntax.SpanStart.CompareTo(b.Syntax.SpanStart));

            // [Input] comes first.
            var inputs = layerAttributes.Where(a => Is(a.Data, InputAttribute)).ToList();
            int[] inputShape = Array.Empty<int>();
            if (inputs.Count == 0)
            {
                Report(DiagnosticDescriptors.MissingInput, classAt, _fullName);
            }
            else
            {
                var input = inputs[0];
                if (layerAttributes[0].Syntax != input.Syntax)
                    Report(DiagnosticDescriptors.UnsupportedCombination, input.Syntax,
                        $"[Input] must come before the layers of model '{_fullName}'; move it above the first layer attribute");
                inputShape = ReadInputShape(input.Data, input.Syntax);
            }

            // The layers, in source order.
            var layers = new List<LayerSpec>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var identifiers = new HashSet<string>(StringComparer.Ordinal);
            foreach (var attribute in layerAttributes)
            {
                if (!Is(attribute.Data, DenseAttribute)) continue;
                LayerSpec? layer = ReadDense(attribute.Data, attribute.Syntax, layers.Count);
                if (layer is null) continue;
                string name = Naming.LayerName(layer);
                if (!names.Add(name) || !identifiers.Add(Naming.Identifier(name)))
                    Report(DiagnosticDescriptors.InvalidLayerName, attribute.Syntax, name,
                        "is used by more than one layer (or differs from another only in punctuation); give each layer its own Name");
                layers.Add(layer);
            }
            if (inputs.Count > 0 && !layerAttributes.Any(a => Is(a.Data, DenseAttribute)))
                Report(DiagnosticDescriptors.UnsupportedCombination, classAt,
                    $"Model '{_fullName}' has no layers; add at least one, e.g. [Dense(10, Activation.Softmax)]");

            // Shapes: every layer here takes a flat vector.
            if (inputShape.Length > 1 && inputShape.All(d => d > 0) && layers.Count > 0)
                Report(DiagnosticDescriptors.UnsupportedCombination, layerAttributes.First(a => Is(a.Data, DenseAttribute)).Syntax,
                    $"Dense needs a flat input, but [Input] gives shape [{string.Join(", ", inputShape)}]; declare the input flat, e.g. [Input({Product(inputShape)})]");

            // Every arena must be addressable with an int.
            long parameters = 0, perSample = 0;
            long width = Product(inputShape);
            foreach (LayerSpec layer in layers)
            {
                parameters += (width + 1) * layer.Units;
                perSample += 4L * layer.Units;
                width = layer.Units;
            }
            if (parameters > MaxArena || perSample > MaxArena)
                Report(DiagnosticDescriptors.UnsupportedCombination, classAt,
                    $"Model '{_fullName}' is too large: it needs {Math.Max(parameters, perSample)} floats in one arena, more than the limit of {MaxArena}; use fewer or smaller layers");

            // [Loss], and whether it fits the output.
            var lossAttribute = attributes.FirstOrDefault(a => Is(a.Data, LossAttribute));
            Loss loss = Loss.MeanSquaredError;
            if (lossAttribute.Data is null)
            {
                if (inputs.Count > 0) Report(DiagnosticDescriptors.MissingLoss, classAt, _fullName);
            }
            else
            {
                loss = (Loss)(int)lossAttribute.Data.ConstructorArguments[0].Value!;
                if (!Enum.IsDefined(typeof(Loss), loss))
                    Report(DiagnosticDescriptors.UnknownEnumValue, lossAttribute.Syntax, ((int)loss).ToString(), nameof(Loss));
                else if (layers.Count > 0)
                    CheckLossFits(loss, layers[layers.Count - 1], lossAttribute.Syntax);
            }

            var model = new ModelSpec(
                _type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                ContainingTypes(),
                _type.Name,
                _fullName,
                inputShape.ToEquatableArray(),
                layers.ToEquatableArray(),
                loss,
                LocationInfo.From(lossAttribute.Syntax));
            return Result(model);
        }

        private void CheckType(List<TypeDeclarationSyntax> declarations, LocationInfo? classAt)
        {
            foreach (TypeDeclarationSyntax declaration in declarations)
            {
                if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    Report(DiagnosticDescriptors.NotPartial, ClassIdentifier(declaration), _fullName);
                    break;
                }
            }
            string? problem =
                _type.IsRecord ? "it is a record; declare it as a plain 'partial class'" :
                _type.IsStatic ? "it is static; remove the 'static' modifier" :
                _type.IsAbstract ? "it is abstract; remove the 'abstract' modifier" :
                _type.IsGenericType ? "it is generic; remove its type parameters" :
                null;
            if (problem is not null) Report(DiagnosticDescriptors.UnsupportedType, classAt, _fullName, problem);
            foreach (ISymbol member in _type.GetMembers())
            {
                if (member.IsImplicitlyDeclared) continue;
                bool clash = s_generatedMembers.Contains(member.Name)
                    || member is IMethodSymbol { MethodKind: MethodKind.Constructor, IsStatic: false, Parameters.Length: 1 } ctor
                        && ctor.Parameters[0].Type.SpecialType == SpecialType.System_Int32;
                if (!clash) continue;
                string what = member.Name == ".ctor" ? $"constructor {_type.Name}(int)" : $"member '{member.Name}'";
                Report(DiagnosticDescriptors.UnsupportedType, member.Locations.FirstOrDefault() is { IsInSource: true } loc
                        ? LocationInfo.From(loc.SourceTree!.GetRoot(_ct).FindToken(loc.SourceSpan.Start)) : classAt,
                    _fullName, $"its {what} clashes with the one Compiled generates; rename or remove it");
            }
            for (INamedTypeSymbol? outer = _type.ContainingType; outer is not null; outer = outer.ContainingType)
            {
                bool partial = outer.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_ct))
                    .OfType<TypeDeclarationSyntax>().All(d => d.Modifiers.Any(SyntaxKind.PartialKeyword));
                if (!partial || outer.TypeKind != TypeKind.Class || outer.IsGenericType || outer.IsRecord)
                {
                    Report(DiagnosticDescriptors.UnsupportedType, classAt, _fullName,
                        $"it is nested in '{outer.Name}', which is not a non-generic partial class; make '{outer.Name}' a partial class or move the model out of it");
                    break;
                }
            }
        }

        private EquatableArray<string> ContainingTypes()
        {
            var names = new List<string>();
            for (INamedTypeSymbol? outer = _type.ContainingType; outer is not null; outer = outer.ContainingType)
                names.Insert(0, outer.Name);
            return names.ToEquatableArray();
        }

        private int[] ReadInputShape(AttributeData data, AttributeSyntax syntax)
        {
            if (data.ConstructorArguments.Length != 1) return Array.Empty<int>();
            TypedConstant argument = data.ConstructorArguments[0];
            int[] shape = argument.Kind == TypedConstantKind.Array
                ? argument.Values.Select(v => v.Value is int i ? i : 0).ToArray()
                : new[] { argument.Value is int single ? single : 0 };
            if (shape.Length == 0)
                Report(DiagnosticDescriptors.NonPositiveSize, syntax, "The rank of [Input]", "0 (no dimensions); give the sample's shape, e.g. [Input(784)]");
            for (int i = 0; i < shape.Length; i++)
                if (shape[i] <= 0)
                    Report(DiagnosticDescriptors.NonPositiveSize, syntax, $"Dimension {i} of [Input]", shape[i].ToString());
            return shape;
        }

        private LayerSpec? ReadDense(AttributeData data, AttributeSyntax syntax, int index)
        {
            if (data.ConstructorArguments.Length < 1) return null;
            int units = data.ConstructorArguments[0].Value is int u ? u : 0;
            var activation = data.ConstructorArguments.Length > 1 && data.ConstructorArguments[1].Value is int a
                ? (Activation)a : Activation.None;
            string? name = null;
            double l2 = 0;
            foreach (KeyValuePair<string, TypedConstant> named in data.NamedArguments)
            {
                if (named.Key == "Name") name = named.Value.Value as string;
                else if (named.Key == "L2") l2 = named.Value.Value is double d ? d : 0;
            }

            bool ok = true;
            if (units <= 0)
            {
                Report(DiagnosticDescriptors.NonPositiveSize, syntax, $"The units of Dense layer {index}", units.ToString());
                ok = false;
            }
            if (!Enum.IsDefined(typeof(Activation), activation))
            {
                Report(DiagnosticDescriptors.UnknownEnumValue, syntax, ((int)activation).ToString(), nameof(Activation));
                ok = false;
            }
            if (double.IsNaN(l2) || double.IsInfinity(l2) || l2 < 0)
            {
                Report(DiagnosticDescriptors.UnsupportedCombination, syntax,
                    $"L2 of Dense layer {index} must be a finite number ≥ 0, but it is {l2.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                ok = false;
            }
            if (name is not null && Naming.NameProblem(name) is { } problem)
            {
                Report(DiagnosticDescriptors.InvalidLayerName, syntax, name, problem);
                ok = false;
            }
            return ok ? new LayerSpec(LayerKind.Dense, index, units, activation, name, l2, LocationInfo.From(syntax)) : null;
        }

        private void CheckLossFits(Loss loss, LayerSpec last, AttributeSyntax at)
        {
            string? problem = loss switch
            {
                Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy when last.Activation != Activation.Softmax =>
                    $"it needs a Softmax output, but the last layer's activation is {last.Activation}; end with [Dense({last.Units}, Activation.Softmax)]",
                Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy when last.Units < 2 =>
                    $"it needs at least 2 classes, but the last layer has {last.Units} unit; for two classes use 2 Softmax units, or 1 Sigmoid unit with Loss.BinaryCrossEntropy",
                Loss.BinaryCrossEntropy when last.Activation != Activation.Sigmoid =>
                    $"it needs a Sigmoid output, but the last layer's activation is {last.Activation}; end with [Dense({last.Units}, Activation.Sigmoid)]",
                _ => null,
            };
            if (problem is not null)
                Report(DiagnosticDescriptors.LossDoesNotFitOutput, at, loss.ToString(), _fullName, problem);
        }

        /// <summary>Class-level diagnostics point at the class's name.</summary>
        private static LocationInfo? ClassIdentifier(TypeDeclarationSyntax declaration)
            => LocationInfo.From(declaration.Identifier);

        private static long Product(int[] shape)
        {
            long n = 1;
            foreach (int d in shape) n = Math.Min(n * Math.Max(d, 0), MaxArena + 1);
            return n;
        }
    }
}
