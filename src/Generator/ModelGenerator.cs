using System.Linq;
using Compiled.Generator.Emit;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using Microsoft.CodeAnalysis;

namespace Compiled.Generator;

/// <summary>
/// The entry point. For each class carrying Compiled's attributes:
/// parse (syntax + symbols) → check (shapes, diagnostics as data) → lower (op list, memory plan) → emit.
/// The diagnostics and the code are separate outputs, and the model carries no location, so a diagnostic-only change
/// (or a blank line above the class) does not regenerate code.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps, for the incrementality tests.</summary>
    public const string ParseStep = "Compiled.Parse";

    /// <summary>Tracking name of the "does the project reference Compiled.Gpu" step.</summary>
    public const string GpuStep = "Compiled.ReferencesGpu";

    /// <summary>Tracking name of the valid models that reach the emitter.</summary>
    public const string ModelStep = "Compiled.Models";

    /// <summary>Tracking name of the diagnostics output's input.</summary>
    public const string DiagnosticsStep = "Compiled.Diagnostics";

    /// <summary>Tracking name of the diagnostics' help-link base (one string per compilation).</summary>
    public const string HelpLinkStep = "Compiled.HelpLink";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // The GPU twin is emitted only when the project references Compiled.Gpu (a bool, so edits stay cached).
        IncrementalValueProvider<bool> gpu = context.CompilationProvider
            .Select(static (c, _) => c.GetTypeByMetadataName("Compiled.Gpu.IGpuModel") is not null)
            .WithTrackingName(GpuStep);

        // The README the diagnostics' help links point into, from the build's properties (a string, so edits stay cached).
        IncrementalValueProvider<string> helpBase = context.AnalyzerConfigOptionsProvider
            .Select(static (o, _) => HelpLinks.Base(o.GlobalOptions))
            .WithTrackingName(HelpLinkStep);

        var pipelines = new System.Collections.Generic.List<IncrementalValuesProvider<ModelResult>>();
        foreach (string trigger in Parser.TriggerAttributes)
        {
            IncrementalValuesProvider<ModelResult> results = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    trigger,
                    static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax,
                    (ctx, ct) => Parser.Parse(ctx, trigger, ct))
                .Where(static r => r is not null)
                .Select(static (r, _) => r!)
                .WithTrackingName(ParseStep);
            pipelines.Add(results);

            context.RegisterSourceOutput(results.Select(static (r, _) => r.Diagnostics).WithTrackingName(DiagnosticsStep).Combine(helpBase),
                static (spc, item) =>
                {
                    foreach (DiagnosticInfo diagnostic in item.Left) spc.ReportDiagnostic(diagnostic.ToDiagnostic(item.Right));
                });
        }

        // Every model's file stem, whichever attribute triggered it: hint names are unique per generator ignoring case, so
        // stems that differ only in case are told apart (a new model changes this; an edit inside one does not).
        IncrementalValueProvider<EquatableArray<string>> stems = pipelines
            .Select(static p => p.Select(static (r, _) => r.HintName).Collect()
                .Select(static (names, _) => names.Sort(System.StringComparer.Ordinal).ToEquatableArray()))
            .Aggregate(static (a, b) => a.Combine(b).Select(static (pair, _) => pair.Left.Concat(pair.Right).ToEquatableArray()));

        foreach (IncrementalValuesProvider<ModelResult> results in pipelines)
        {
            IncrementalValuesProvider<(ModelSpec Model, string HintName)> models = results
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => (r.Model!, r.HintName))
                .WithTrackingName(ModelStep);
            context.RegisterSourceOutput(models.Combine(gpu).Combine(stems).Combine(helpBase),
                static (spc, item) => Generate(spc, item.Left.Left.Left.Model, item.Left.Left.Left.HintName, item.Left.Left.Right,
                    item.Left.Right, item.Right));
        }
    }

    /// <summary>
    /// The hint name of a generated file: <paramref name="stem"/> (plus <c>.Gpu</c> for the twin), or, when another
    /// model's file would have the same name ignoring case (<c>Net</c> and <c>NET</c>, or namespace <c>a.Net</c>'s model
    /// <c>Gpu</c> and <c>A.Net</c>'s twin), that name with a hash of the exact stem, which no identifier can make.
    /// </summary>
    internal static string FileName(string stem, bool gpu, EquatableArray<string> stems)
    {
        string name = gpu ? stem + ".Gpu" : stem;
        foreach (string other in stems)
        {
            if (other == stem) continue;
            if (string.Equals(other, name, System.StringComparison.OrdinalIgnoreCase)
                || string.Equals(other + ".Gpu", name, System.StringComparison.OrdinalIgnoreCase))
                return name + "-" + Fnv(stem).ToString("x8", System.Globalization.CultureInfo.InvariantCulture) + ".g.cs";
        }
        return name + ".g.cs";
    }

    private static uint Fnv(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text) hash = (hash ^ c) * 16777619;
        return hash;
    }

    private static void Generate(SourceProductionContext context, ModelSpec model, string stem, bool gpu, EquatableArray<string> stems,
        string helpBase)
    {
        string source;
        string? gpuSource = null;
        try
        {
            ModelPlan plan = Lowering.Lower(model);
            source = CpuEmitter.Emit(plan);
            if (gpu) gpuSource = GpuEmitter.Emit(plan);
        }
        catch (System.Exception e)
        {
            // Never throw into the compiler, and never emit half a model: report it instead.
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.WithHelpLink(DiagnosticDescriptors.InternalError, helpBase), null, model.FullName,
                e.GetType().Name + ": " + e.Message));
            return;
        }
        context.AddSource(FileName(stem, gpu: false, stems), source);
        if (gpuSource is not null) context.AddSource(FileName(stem, gpu: true, stems), gpuSource);
    }
}
