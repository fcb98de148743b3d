using System.Collections.Generic;
using System.Globalization;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[Dropout(rate)]</c> as read.</summary>
internal sealed record DropoutSpec(int Index, string? Name, double Rate) : LayerSpec(Index, Name)
{
    public override string Kind => "Dropout";
}

/// <summary>The layer table's row for <c>[Dropout(rate)]</c>: any shape in, the same shape out.</summary>
internal sealed class DropoutLayer : LayerKind
{
    public static readonly DropoutLayer Instance = new();

    public override string AttributeName => "Compiled.DropoutAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        double rate = reader.Double(0, -1);
        if (!(rate >= 0 && rate < 1))
        {
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"The rate of Dropout layer {Int(index)} must be in [0, 1), but it is {rate.ToString("R", CultureInfo.InvariantCulture)}");
            return null;
        }
        return new DropoutSpec(index, name, rate);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check) => input;

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (DropoutSpec)layer;
        Buffer mask = context.Buffer("Mask", "dropout mask (0 or 1/(1−rate))", context.Input.Size, BufferRole.Saved);
        Tensor output = context.OutputTensor(context.Input.Shape);
        context.Add(new DropoutOp(context.Plan, spec, context.Input, output, mask));
    }
}

/// <summary>
/// Inverted dropout: in training y = x ⊙ m with m = 1/(1−rate) where a hash of (step seed, element) clears the rate,
/// else 0 (the same mask on the CPU and the GPU); backward dx = dy ⊙ m. When predicting it is the identity.
/// Layout: whatever its input's, element for element.
/// </summary>
internal sealed class DropoutOp : Op
{
    private readonly DropoutSpec _spec;
    private readonly Buffer _mask;

    public DropoutOp(ModelPlan plan, DropoutSpec spec, Tensor input, Tensor output, Buffer mask)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _mask = mask;
    }

    private string Count => $"batch * {Int(Input.Size)}";

    /// <summary>An element is kept when the top 24 bits of its hash are ≥ this (rate · 2²⁴, exact on both targets).</summary>
    private string Threshold => ((uint)System.Math.Round(_spec.Rate * (1 << 24))).ToString(CultureInfo.InvariantCulture) + "u";

    private string Scale => Float(1.0 / (1.0 - _spec.Rate));

    public override string Summary => $"Dropout({_spec.Rate.ToString("R", CultureInfo.InvariantCulture)})";

    public override bool UsesStepSeed => true;

    public override LayerDescription Describe()
        => new(_spec.Kind, Activation.None, System.Array.Empty<ParameterTensor>(),
            new[] { $"Rate = {_spec.Rate.ToString("R", CultureInfo.InvariantCulture)}" });

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string x = Input.Ref, y = Output.Ref;
        if (pass == Pass.Inference)
        {
            yield return new Step($"{Name}: {Summary}, the identity when predicting\n{y} = {x}",
                $"{Cpu}.Dropout.Inference({y}, {x}, {Count});",
                new GpuCall("Inference", $"{Gpu}.Dropout.Inference(y, x, count)", new[] { "y", "x" }, new[] { y, x },
                    $"{Gpu}.Launch.Elementwise({Count})", "count", Count));
            yield break;
        }
        yield return new Step($"{Name}: {Summary}\n{_mask.Property} = hash(seed, i) ≥ {Threshold} ? {Scale} : 0;  {y} = {x} ⊙ {_mask.Property}",
            $"{Cpu}.Dropout.Forward({y}, {_mask.Property}, {x}, seed, {Count}, {Threshold}, {Scale});",
            new GpuCall("Forward", $"{Gpu}.Dropout.Forward(y, mask, x, seed, count, {Threshold}, {Scale})", new[] { "y", "mask", "x" },
                new[] { y, _mask.Property, x }, $"{Gpu}.Launch.Elementwise({Count})", "count", Count, new[] { "uint seed" }));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        if (Input.IsModelInput) yield break;
        string dx = Input.Grad!.Property, dy = Output.Grad!.Property;
        yield return new Step($"{Name} backward: {dx} = {dy} ⊙ {_mask.Property}",
            $"{Cpu}.Dropout.Backward({dx}, {dy}, {_mask.Property}, {Count});",
            new GpuCall("Backward", $"{Gpu}.Dropout.Backward(dx, dy, mask, count)", new[] { "dx", "dy", "mask" },
                new[] { dx, dy, _mask.Property }, $"{Gpu}.Launch.Elementwise({Count})", "count", Count));
    }
}
