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

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // The GPU twin is emitted only when the project references Compiled.Gpu (a bool, so edits stay cached).
        IncrementalValueProvider<bool> gpu = context.CompilationProvider
            .Select(static (c, _) => c.GetTypeByMetadataName("Compiled.Gpu.IGpuModel") is not null)
            .WithTrackingName(GpuStep);

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

            context.RegisterSourceOutput(results.Select(static (r, _) => r.Diagnostics).WithTrackingName(DiagnosticsStep),
                static (spc, diagnostics) =>
                {
                    foreach (DiagnosticInfo diagnostic in diagnostics) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
                });

            IncrementalValuesProvider<(ModelSpec Model, string HintName)> models = results
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => (r.Model!, r.HintName))
                .WithTrackingName(ModelStep);
            context.RegisterSourceOutput(models.Combine(gpu), static (spc, item) => Generate(spc, item.Left.Model, item.Left.HintName, item.Right));
        }
    }

    private static void Generate(SourceProductionContext context, ModelSpec model, string hintName, bool gpu)
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
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, null, model.FullName,
                e.GetType().Name + ": " + e.Message));
            return;
        }
        context.AddSource(hintName, source);
        if (gpuSource is not null) context.AddSource(hintName.Substring(0, hintName.Length - ".g.cs".Length) + ".Gpu.g.cs", gpuSource);
    }
}
