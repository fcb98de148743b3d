using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using Compiled.Generator.Layers;
using Compiled.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Compiled.Generator;

/// <summary>
/// The first stage: reads a model class's declaration and attributes into a <see cref="ParsedModel"/>. Layer order
/// comes from the syntax (the order of the attributes in the class declaration), arguments from the semantic model,
/// each layer's through its row of the <see cref="LayerTable"/>. Every problem becomes a <see cref="DiagnosticInfo"/>;
/// nothing here throws on bad input. The <see cref="Checker"/> then infers the shapes.
/// </summary>
internal static class Parser
{
    public const string InputAttribute = "Compiled.InputAttribute";
    public const string LossAttribute = "Compiled.LossAttribute";

    /// <summary>
    /// The attributes the generator is triggered by, most decisive first. A class is parsed once, by the first
    /// of these it carries, so a model with [Input] and [Loss] is not reported twice.
    /// </summary>
    public static readonly string[] TriggerAttributes =
        new[] { InputAttribute, LossAttribute }.Concat(LayerTable.AttributeNames).ToArray();

    /// <summary>
    /// Parses and checks the class <paramref name="context"/> points at, when <paramref name="trigger"/> is the attribute
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
        var diagnostics = new List<DiagnosticInfo>();
        try
        {
            ParsedModel? parsed = new Run(type, context.SemanticModel, fullName, diagnostics, ct).Execute();
            ModelSpec? model = parsed is null ? null : Checker.Check(parsed, diagnostics);
            return new ModelResult(diagnostics.Count == 0 ? model : null, diagnostics.ToEquatableArray(), hintName);
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

    /// <summary>
    /// The file name's stem: the namespace's parts joined by '.', the containing types' names by '+', and a generic
    /// type's arity after '`' (<c>Demo.Outer+Net</c>), so that no two types share a stem; hint names allow Unicode
    /// letters, '.', '+' and '`', but not '@' (a keyword name <c>@class</c> is the symbol name <c>class</c>). Stems that
    /// differ only in case are told apart when the files are added (<see cref="ModelGenerator"/>).
    /// </summary>
    internal static string HintName(INamedTypeSymbol type)
    {
        var builder = new StringBuilder();
        for (INamespaceSymbol? ns = type.ContainingNamespace; ns is { IsGlobalNamespace: false }; ns = ns.ContainingNamespace)
            builder.Insert(0, ns.Name + ".");
        var names = new List<string>();
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
            names.Insert(0, t.Arity == 0 ? t.Name : t.Name + "`" + t.Arity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return builder.Append(string.Join("+", names)).ToString();
    }

    /// <summary>Members the generator writes whatever the layers; a user member with one of these names would clash.</summary>
    internal static readonly string[] GeneratedMembers =
    {
        "InputSize", "OutputSize", "TargetSize", "ParameterCount", "WorkspacePerSample", "Loss", "Parameters", "Gradients",
        "Tensors", "Initialize", "Forward", "ComputeGradients", "Load", "EnsureCapacity", "Random", "GpuTwin", "GpuKernels",
        "CreateGpuTwin", "s_tensors", "_parameters", "_gradients", "_workspace", "_capacity", "_origin", "_random", "Layers", "s_layers",
        "_sync", "_packed",
    };

    /// <summary>One parse of one class.</summary>
    private sealed class Run
    {
        private readonly INamedTypeSymbol _type;
        private readonly SemanticModel _semanticModel;
        private readonly string _fullName;
        private readonly CancellationToken _ct;
        private readonly List<DiagnosticInfo> _diagnostics;

        public Run(INamedTypeSymbol type, SemanticModel semanticModel, string fullName, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            _type = type;
            _semanticModel = semanticModel;
            _fullName = fullName;
            _diagnostics = diagnostics;
            _ct = ct;
        }

        private void Report(DiagnosticDescriptor descriptor, LocationInfo? at, params string[] args)
            => _diagnostics.Add(new DiagnosticInfo(descriptor.Id, at, args.ToEquatableArray()));

        public ParsedModel? Execute()
        {
            var declarations = _type.DeclaringSyntaxReferences
                .Select(r => r.GetSyntax(_ct)).OfType<TypeDeclarationSyntax>().ToList();
            LocationInfo? classAt = declarations.Count > 0 ? ClassIdentifier(declarations[0]) : null;

            CheckType(declarations, classAt);

            // Every Compiled attribute on the class, with its syntax.
            var attributes = new List<(AttributeData Data, AttributeSyntax Syntax, TypeDeclarationSyntax Declaration, string Name)>();
            foreach (AttributeData data in _type.GetAttributes())
            {
                string? name = data.AttributeClass?.ToDisplayString();
                if (name is null || !(name is InputAttribute or LossAttribute || LayerTable.ByAttribute(name) is not null)) continue;
                if (data.ApplicationSyntaxReference?.GetSyntax(_ct) is not AttributeSyntax syntax) continue;
                if (syntax.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not { } declaration) continue;
                // Arguments the compiler could not bind: it reports them itself.
                if (data.AttributeConstructor is null
                    || data.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
                    || data.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error))
                    return null;
                attributes.Add((data, syntax, declaration, name));
            }

            var layerAttributes = attributes.Where(a => a.Name != LossAttribute).ToList();
            var layerDeclarations = layerAttributes.Select(a => a.Declaration).Distinct().ToList();
            if (layerDeclarations.Count > 1)
            {
                Report(DiagnosticDescriptors.LayersSplitOverPartials, ClassIdentifier(layerDeclarations[1]), _fullName);
                return null;
            }
            layerAttributes.Sort((a, b) => a.Syntax.SpanStart.CompareTo(b.Syntax.SpanStart));

            // [Input] comes first.
            var input = layerAttributes.FirstOrDefault(a => a.Name == InputAttribute);
            int[]? inputShape = null;
            if (input.Data is null)
            {
                Report(DiagnosticDescriptors.MissingInput, classAt, _fullName);
            }
            else
            {
                if (layerAttributes[0].Syntax != input.Syntax)
                    Report(DiagnosticDescriptors.InputNotFirst, LocationInfo.From(input.Syntax), _fullName);
                inputShape = ReadInputShape(new AttributeReader(input.Data, LocationInfo.From(input.Syntax), _diagnostics));
            }

            // The layers, in source order, each read by its row of the layer table.
            var layers = new List<LayerSpec>();
            var locations = new List<LocationInfo?>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            var identifiers = new HashSet<string>(StringComparer.Ordinal);
            int index = 0;
            foreach (var attribute in layerAttributes)
            {
                if (attribute.Name == InputAttribute) continue;
                LocationInfo? at = LocationInfo.From(attribute.Syntax);
                var reader = new AttributeReader(attribute.Data, at, _diagnostics);
                string? name = reader.Named<string?>("Name", null);
                if (name is not null && Naming.NameProblem(name) is { } problem)
                {
                    Report(DiagnosticDescriptors.InvalidLayerName, at, name, problem);
                    name = null;
                }
                LayerSpec? layer = LayerTable.ByAttribute(attribute.Name)!.Read(reader, index++, name);
                if (layer is null) continue;
                if (!names.Add(layer.LayerName) || !identifiers.Add(Naming.Pascal(layer.LayerName)))
                    Report(DiagnosticDescriptors.InvalidLayerName, at, layer.LayerName,
                        "is used by more than one layer (or differs from another only in punctuation); give each layer its own Name");
                layers.Add(layer);
                locations.Add(at);
            }
            if (input.Data is not null && index == 0)
                Report(DiagnosticDescriptors.NoLayers, classAt, _fullName);

            // [Loss].
            var lossAttribute = attributes.FirstOrDefault(a => a.Name == LossAttribute);
            Loss? loss = null;
            LossTarget lossTarget = LossTarget.Targets;
            if (lossAttribute.Data is null)
            {
                if (input.Data is not null) Report(DiagnosticDescriptors.MissingLoss, classAt, _fullName);
            }
            else
            {
                var reader = new AttributeReader(lossAttribute.Data, LocationInfo.From(lossAttribute.Syntax), _diagnostics);
                int before = reader.DiagnosticCount;
                Loss value = reader.Enum(0, Loss.MeanSquaredError);
                lossTarget = reader.NamedEnum("Target", LossTarget.Targets);
                if (!reader.HasErrors(before)) loss = value;
            }

            return new ParsedModel(
                _type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                ContainingTypes(), _type.Name, _fullName, inputShape is null ? null : new Shape(inputShape), layers, locations,
                loss, LocationInfo.From(lossAttribute.Syntax), classAt, Members(declarations, classAt), ChooseAliases(declarations[0]),
                declarations.Any(d => d.ParameterList is { Parameters.Count: 0 }), lossTarget);
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
                _type.TypeParameters.Length > 0 ? "it is generic; remove its type parameters" :
                _type.IsFileLocal ? "it is file-local, and the part Compiled generates is in another file; remove the 'file' modifier" :
                null;
            if (problem is not null) Report(DiagnosticDescriptors.UnsupportedType, classAt, _fullName, problem);
            foreach (ISymbol member in _type.GetMembers())
            {
                if (member.IsImplicitlyDeclared) continue;
                if (member is IMethodSymbol { MethodKind: MethodKind.Constructor, IsStatic: false, Parameters.Length: 1 } ctor
                    && ctor.Parameters[0].Type.SpecialType == SpecialType.System_Int32)
                    Report(DiagnosticDescriptors.UnsupportedType, At(member) ?? classAt, _fullName,
                        $"its constructor {_type.Name}(int) clashes with the one Compiled generates; rename or remove it");
            }
            for (INamedTypeSymbol? outer = _type.ContainingType; outer is not null; outer = outer.ContainingType)
            {
                bool partial = outer.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_ct))
                    .OfType<TypeDeclarationSyntax>().All(d => d.Modifiers.Any(SyntaxKind.PartialKeyword));
                string? outerProblem =
                    !partial ? $"make '{outer.Name}' a partial {Keyword(outer) ?? "class"} or move the model out of it" :
                    outer.IsGenericType ? "it is generic; move the model out of it" :
                    outer.IsFileLocal ? "it is file-local, and the part Compiled generates is in another file; remove the 'file' modifier" :
                    Keyword(outer) is null ? "it is not a class, struct, record or interface; move the model out of it" :
                    null;
                if (outerProblem is not null)
                {
                    Report(DiagnosticDescriptors.UnsupportedType, classAt, _fullName, $"it is nested in '{outer.Name}': {outerProblem}");
                    break;
                }
            }
            CheckConstructors(declarations);

            // Generated code names everything from global:: (global::System.Span, global::Compiled.Gpu.GpuTwin): a type of
            // the user's with a namespace's full name (a class System, or a class Gpu in namespace Compiled) would take the
            // namespace's place in every generated file.
            var reported = new HashSet<string>(StringComparer.Ordinal);
            foreach (string path in UsedNamespaces)
            {
                INamespaceSymbol? source = _semanticModel.Compilation.SourceModule.GlobalNamespace;
                INamespaceSymbol? merged = _semanticModel.Compilation.GlobalNamespace;
                string prefix = "";
                foreach (string part in path.Split('.'))
                {
                    if (source is null || merged is null) break;
                    // A type of the user's with the namespace's name, or with the name of a referenced type in it
                    // (a model Compiled.IModel would be the IModel the generated code implements).
                    string qualified = prefix.Length == 0 ? part : prefix + "." + part;
                    foreach (INamedTypeSymbol type in source.GetTypeMembers())
                    {
                        bool hides = type.Name == part
                            || prefix.Length > 0 && merged.GetTypeMembers(type.Name, type.Arity).Any(m => m.Locations.Any(l => l.IsInMetadata));
                        string name = type.Name == part ? qualified : prefix + "." + type.Name;
                        if (hides && reported.Add(name)) Report(DiagnosticDescriptors.GlobalTypeHidesNamespace, classAt, _fullName, name);
                    }
                    prefix = qualified;
                    source = source.GetNamespaceMembers().FirstOrDefault(n => n.Name == part);
                    merged = merged.GetNamespaceMembers().FirstOrDefault(n => n.Name == part);
                }
                // The types of the innermost namespace itself.
                if (source is not null && merged is not null)
                    foreach (INamedTypeSymbol type in source.GetTypeMembers())
                        if (merged.GetTypeMembers(type.Name, type.Arity).Any(m => m.Locations.Any(l => l.IsInMetadata)) && reported.Add(prefix + "." + type.Name))
                            Report(DiagnosticDescriptors.GlobalTypeHidesNamespace, classAt, _fullName, prefix + "." + type.Name);
            }
        }

        /// <summary>The namespaces generated code names from <c>global::</c>.</summary>
        private static readonly string[] UsedNamespaces =
        {
            "System.CodeDom.Compiler", "System.Diagnostics.CodeAnalysis", "System.Runtime.InteropServices", "Compiled.CompilerServices",
            "Compiled.Gpu.CompilerServices", "ILGPU.Runtime",
        };

        /// <summary>
        /// The generated constructor <c>M(int seed = 0)</c> calls the base class's parameterless constructor, and, when the
        /// class has an empty primary constructor, <c>this()</c>; a primary constructor with parameters it cannot call.
        /// </summary>
        private void CheckConstructors(List<TypeDeclarationSyntax> declarations)
        {
            foreach (TypeDeclarationSyntax declaration in declarations)
            {
                if (declaration.ParameterList is { Parameters.Count: > 0 } parameters)
                    Report(DiagnosticDescriptors.PrimaryConstructorWithParameters, LocationInfo.From(parameters), _fullName, Naming.EscapeType(_type.Name));
            }
            if (_type.BaseType is not { SpecialType: not SpecialType.System_Object } baseType || baseType.TypeKind != TypeKind.Class) return;
            bool callable = baseType.InstanceConstructors.Any(c =>
                c.Parameters.All(p => p.IsOptional || p.IsParams) && _semanticModel.Compilation.IsSymbolAccessibleWithin(c, _type));
            if (!callable)
                Report(DiagnosticDescriptors.BaseWithoutParameterlessConstructor, BaseTypeAt(declarations), _fullName,
                    baseType.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat));
        }

        /// <summary>The base class as written in the class's base list (diagnostics about the base point there).</summary>
        private LocationInfo? BaseTypeAt(List<TypeDeclarationSyntax> declarations)
        {
            foreach (TypeDeclarationSyntax declaration in declarations)
            {
                if (declaration.BaseList?.Types.FirstOrDefault() is not { } first) continue;
                if (_semanticModel.Compilation.GetSemanticModel(declaration.SyntaxTree).GetTypeInfo(first.Type, _ct).Type is INamedTypeSymbol t
                    && SymbolEqualityComparer.Default.Equals(t, _type.BaseType))
                    return LocationInfo.From(first);
            }
            return declarations.Count > 0 ? ClassIdentifier(declarations[0]) : null;
        }

        /// <summary>The keyword a partial declaration of <paramref name="type"/> starts with, or null for a kind that cannot hold a model.</summary>
        private static string? Keyword(INamedTypeSymbol type) => type.TypeKind switch
        {
            TypeKind.Class => type.IsRecord ? "record" : "class",
            TypeKind.Struct => type.IsRecord ? "record struct" : "struct",
            TypeKind.Interface => "interface",
            _ => null,
        };

        private LocationInfo? At(ISymbol member)
            => member.Locations.FirstOrDefault() is { IsInSource: true } loc
                ? LocationInfo.From(loc.SourceTree!.GetRoot(_ct).FindToken(loc.SourceSpan.Start)) : null;

        /// <summary>
        /// The class's own members, and the members of its base classes it can see (which a generated member of the same
        /// name would hide): what the generated members must not clash with, each with where to report it.
        /// </summary>
        private List<ModelMember> Members(List<TypeDeclarationSyntax> declarations, LocationInfo? classAt)
        {
            var members = new List<ModelMember>();
            foreach (ISymbol member in _type.GetMembers())
                if (!member.IsImplicitlyDeclared && member is not IMethodSymbol { MethodKind: MethodKind.Constructor or MethodKind.StaticConstructor })
                    members.Add(new ModelMember(member.Name, At(member) ?? classAt, null));
            LocationInfo? baseAt = null;
            for (INamedTypeSymbol? t = _type.BaseType; t is not null && t.SpecialType != SpecialType.System_Object; t = t.BaseType)
                foreach (ISymbol member in t.GetMembers())
                {
                    if (member.IsImplicitlyDeclared || member is IMethodSymbol { MethodKind: MethodKind.Constructor or MethodKind.StaticConstructor }
                        || !_semanticModel.Compilation.IsSymbolAccessibleWithin(member, _type)) continue;
                    baseAt ??= BaseTypeAt(declarations);
                    members.Add(new ModelMember(member.Name, baseAt, t.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat)));
                }
            return members;
        }

        /// <summary>Alias names for the generated files that no type, namespace or member visible in the class has.</summary>
        private Aliases ChooseAliases(TypeDeclarationSyntax declaration)
        {
            var taken = new HashSet<string>(StringComparer.Ordinal);
            int position = declaration.SpanStart;
            string Free(params string[] candidates)
            {
                foreach (string candidate in candidates)
                {
                    if (taken.Contains(candidate) || GeneratedMembers.Contains(candidate)) continue;
                    if (!_semanticModel.LookupNamespacesAndTypes(position, name: candidate).IsEmpty) continue;
                    if (IsMember(candidate)) continue;
                    taken.Add(candidate);
                    return candidate;
                }
                return "__" + candidates[0];
            }
            return new Aliases(Free("Cpu", "CpuOps", "CompiledCpu"), Free("Gpu", "GpuOps", "CompiledGpu"),
                Free("View", "DeviceView", "CompiledView"));
        }

        private bool IsMember(string name)
        {
            for (INamedTypeSymbol? outer = _type; outer is not null; outer = outer.ContainingType)
                for (INamedTypeSymbol? t = outer; t is not null; t = t.BaseType)
                    if (!t.GetMembers(name).IsEmpty || !t.GetTypeMembers(name).IsEmpty) return true;
            return false;
        }

        /// <summary>The containing types, outermost first, as their partial declarations start: <c>class @event</c>.</summary>
        private EquatableArray<string> ContainingTypes()
        {
            var names = new List<string>();
            for (INamedTypeSymbol? outer = _type.ContainingType; outer is not null; outer = outer.ContainingType)
                names.Insert(0, (Keyword(outer) ?? "class") + " " + Naming.EscapeType(outer.Name));
            return names.ToEquatableArray();
        }

        private int[]? ReadInputShape(AttributeReader reader)
        {
            int before = reader.DiagnosticCount;
            int[] shape = reader.Ints(0);
            if (shape.Length == 0)
                reader.Report(DiagnosticDescriptors.NonPositiveSize, "The rank of [Input]", "0 (no dimensions); give the sample's shape, e.g. [Input(784)]");
            for (int i = 0; i < shape.Length; i++)
                if (shape[i] <= 0)
                    reader.Report(DiagnosticDescriptors.NonPositiveSize, $"Dimension {Naming.Int(i)} of [Input]", Naming.Int(shape[i]));
            return reader.HasErrors(before) ? null : shape;
        }

        /// <summary>Class-level diagnostics point at the class's name.</summary>
        private static LocationInfo? ClassIdentifier(TypeDeclarationSyntax declaration)
            => LocationInfo.From(declaration.Identifier);
    }
}

/// <summary>
/// What the parser hands the checker: what it could read (a part is null where it was missing or wrong) and, beside it,
/// the locations diagnostics point at — which never enter the cached <see cref="ModelSpec"/>.
/// </summary>
internal sealed record ParsedModel(string? Namespace, EquatableArray<string> ContainingTypes, string ClassName, string FullName,
    Shape? InputShape, List<LayerSpec> Layers, List<LocationInfo?> LayerLocations, Loss? Loss, LocationInfo? LossLocation,
    LocationInfo? ClassLocation, List<ModelMember> Members, Aliases Aliases, bool EmptyPrimaryConstructor,
    LossTarget LossTarget = LossTarget.Targets);

/// <summary>
/// A member the generated code must not clash with: one of the class's own (<paramref name="BaseType"/> null), or one of
/// a base class's that the class can see; <paramref name="At"/> is the member, or the base class in the base list.
/// </summary>
internal sealed record ModelMember(string Name, LocationInfo? At, string? BaseType);
