using System.Collections.Generic;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[Flatten]</c> as read.</summary>
internal sealed record FlattenSpec(int Index, string? Name) : LayerSpec(Index, Name)
{
    public override string Kind => "Flatten";
}

/// <summary>The layer table's row for <c>[Flatten]</c>: an image <c>(H, W, C)</c> to <c>(C·H·W)</c>.</summary>
internal sealed class FlattenLayer : LayerKind
{
    public static readonly FlattenLayer Instance = new();

    public override string AttributeName => "Compiled.FlattenAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name) => new FlattenSpec(index, name);

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        if (input.Rank == 3) return new Shape((int)input.Size);
        check.Mismatch($"Flatten needs an image input (height, width, channels), but layer {Int(layer.Index)} gets {input}" +
            (input.Rank == 1 ? ", which is already flat; remove [Flatten]" : ""));
        return null;
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
        => context.Add(new FlattenOp(context.Plan, layer, context.Input, context.OutputTensor(layer.Output)));
}

/// <summary>
/// Flatten in PyTorch's order: y[b, c·H·W + h·W + w] = x[b, h, w, c] (NHWC in, NCHW-flattened out), so the Dense after it
/// has the weight layout of the same network in PyTorch. Backward applies the inverse permutation.
/// </summary>
internal sealed class FlattenOp : Op
{
    public FlattenOp(ModelPlan plan, LayerSpec spec, Tensor input, Tensor output)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
    }

    public override string Summary => "Flatten";

    public override LayerDescription Describe()
        => new("Flatten", Activation.None, System.Array.Empty<ParameterTensor>(), System.Array.Empty<string>());

    private string Sizes => $"batch, {Int(Input.Shape[0])}, {Int(Input.Shape[1])}, {Int(Input.Shape[2])}";

    public override IEnumerable<Step> Forward(Pass pass)
    {
        yield return new Step($"{Name}: Flatten, {Input.Shape} → {Output.Shape}\n{Output.Ref}[B, c·H·W + h·W + w] = {Input.Ref}[B, h, w, c]   (PyTorch's order)",
            $"{Cpu}.Flatten.Forward({Output.Ref}, {Input.Ref}, {Sizes});",
            new GpuCall("Forward", $"{Gpu}.Flatten.Forward(y, x, {Sizes})", new[] { "y", "x" }, new[] { Output.Ref, Input.Ref },
                $"{Gpu}.Flatten.ForwardLaunch({Sizes})"));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        if (Input.IsModelInput) yield break;
        string dx = Input.Grad!.Property, dy = Output.Grad!.Property;
        yield return new Step($"{Name} backward: {dx}[B, h, w, c] = {dy}[B, c·H·W + h·W + w]",
            $"{Cpu}.Flatten.Backward({dx}, {dy}, {Sizes});",
            new GpuCall("Backward", $"{Gpu}.Flatten.Backward(dx, dy, {Sizes})", new[] { "dx", "dy" }, new[] { dx, dy },
                $"{Gpu}.Flatten.ForwardLaunch({Sizes})"));
    }
}
