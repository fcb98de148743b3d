using System.Collections.Immutable;
using System.Linq;
using Compiled.Generator.Emit;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using Microsoft.CodeAnalysis;

namespace Compiled.Generator;

/// <summary>
/// The entry point. For each class carrying Compiled's attributes:
/// parse (syntax + symbols → <see cref="ModelSpec"/>, diagnostics as data) → lower (op list, memory plan) → emit.
/// The diagnostics and the code are separate outputs, so a diagnostic-only change does not regenerate code.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps, for the incrementality tests.</summary>
    public const string ParseStep = "Compiled.Parse";

    /// <summary>Tracking name of the valid models that reach the emitter.</summary>
    public const string ModelStep = "Compiled.Models";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
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

            context.RegisterSourceOutput(results.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
            {
                foreach (DiagnosticInfo diagnostic in diagnostics) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
            });

            IncrementalValuesProvider<(ModelSpec Model, string HintName)> models = results
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => (r.Model!, r.HintName))
                .WithTrackingName(ModelStep);
            context.RegisterSourceOutput(models, static (spc, item) => Generate(spc, item.Model, item.HintName));
        }
    }

    private static void Generate(SourceProductionContext context, ModelSpec model, string hintName)
    {
        string source;
        try
        {
            ModelPlan plan = Lowering.Lower(model);
            source = CpuEmitter.Emit(plan);
        }
        catch (System.Exception e)
        {
            // Never throw into the compiler, and never emit half a model: report it instead.
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, null, model.FullName,
                e.GetType().Name + ": " + e.Message));
            return;
        }
        context.AddSource(hintName, source);
    }
}
