using System.Collections.Generic;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[Embedding(vocabulary, width)]</c> as read.</summary>
internal sealed record EmbeddingSpec(int Index, string? Name, int Vocabulary, int Width) : LayerSpec(Index, Name)
{
    public override string Kind => "Embedding";
}

/// <summary>The layer table's row for <c>[Embedding]</c>: the model's <c>(T)</c> token ids to <c>(T, width)</c> vectors.</summary>
internal sealed class EmbeddingLayer : LayerKind
{
    public static readonly EmbeddingLayer Instance = new();

    public override string AttributeName => "Compiled.EmbeddingAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int before = reader.DiagnosticCount;
        int vocabulary = reader.Int(0), width = reader.Int(1);
        if (vocabulary <= 0)
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The vocabulary of Embedding layer {Int(index)}", Int(vocabulary));
        if (width <= 0)
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The width of Embedding layer {Int(index)}", Int(width));
        return reader.HasErrors(before) ? null : new EmbeddingSpec(index, name, vocabulary, width);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        var spec = (EmbeddingSpec)layer;
        if (layer.Index != 0)
        {
            check.Report(DiagnosticDescriptors.EmbeddingNotFirst, Int(layer.Index), input.ToString());
            return null;
        }
        if (input.Rank != 1)
        {
            check.Report(DiagnosticDescriptors.EmbeddingInputNotTokens, input.ToString(), Int((int)System.Math.Min(input.Size, int.MaxValue)));
            return null;
        }
        return new Shape(input[0], spec.Width);
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (EmbeddingSpec)layer;
        ParameterTensor weight = context.Parameter("weight", spec.Vocabulary, spec.Width);
        Tensor output = context.OutputTensor(layer.Output);
        context.Add(new EmbeddingOp(context.Plan, spec, context.Input, output, weight));
    }
}

/// <summary>
/// Embedding: y[b, s, :] = W[x[b, s], :] with W [vocabulary, width] (PyTorch's nn.Embedding); the ids are the model's
/// input, carried as floats. Backward: dW = Σ_(b,s) onehot(x[b, s]) ⊗ dy[b, s, :] (overwritten), no input gradient.
/// CPU: ids checked first (a bad id throws, naming sample and position), rows copied; the scatter runs in row order on
/// one thread. GPU: a thread per output element forward; a thread per weight element backward, summing its token's
/// steps in order, so both are deterministic. The twin checks the ids on the host before uploading them.
/// </summary>
internal sealed class EmbeddingOp : Op
{
    private readonly EmbeddingSpec _spec;
    private readonly ParameterTensor _weight;

    public EmbeddingOp(ModelPlan plan, EmbeddingSpec spec, Tensor input, Tensor output, ParameterTensor weight)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _weight = weight;
    }

    private int Steps => Input.Shape[0];

    public override LayerDescription Describe()
        => new(_spec.Kind, Activation.None, new[] { _weight }, new[] { $"Vocabulary = {Int(_spec.Vocabulary)}", $"Units = {Int(_spec.Width)}" });

    public override string Summary => $"Embedding({Int(_spec.Vocabulary)}, {Int(_spec.Width)})";

    public override int InputVocabulary => _spec.Vocabulary;

    public override ParameterTensor? GatheredTable => _weight;

    public override IEnumerable<string> Initialize()
    {
        // Cpu.Init.Normal(<Weight>, 1f, ref rng); // <name>.weight [vocabulary, width], N(0, 1)
        yield return $"{Cpu}.Init.Normal({_weight.Property}, 1f, ref rng); // {_weight.Name} {_weight.ShapeText}, N(0, 1) as nn.Embedding";
    }

    private string Sizes => $"batch, {Int(Steps)}, {Int(_spec.Vocabulary)}, {Int(_spec.Width)}";

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string y = Output.Ref, x = Input.Ref, w = _weight.Property;
        yield return new Step($"{Name}: {Summary}, {Input.Shape.Bracketed} → {Output.Shape.Bracketed}\n" +
            $"{y}[B, s, :] = {w}{_weight.ShapeText}[{x}[B, s], :]   (token ids checked: whole numbers in [0, {Int(_spec.Vocabulary)}))",
            $"{Cpu}.Embedding.Forward({y}, {x}, {w}, {Sizes});",
            new GpuCall("Forward", $"{Gpu}.Embedding.Forward(y, x, w, {Sizes})", new[] { "y", "x", "w" }, new[] { y, x, w },
                $"{Gpu}.Launch.Elementwise((long)batch * {Int((int)Output.Size)})"));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        string dw = _weight.GradProperty, dy = Output.Grad!.Property, x = Input.Ref;
        // On the CPU a consumer that took the table (CpuBackwardByConsumer) has written dw already.
        yield return new Step($"{Name} backward: {dw}[v, :] = Σ over (B, s) with {x}[B, s] = v of {dy}[B, s, :]   (in order: deterministic)",
            CpuBackwardByConsumer ? null : $"{Cpu}.Embedding.Backward({dw}, {dy}, {x}, {Sizes});",
            new GpuCall("Backward", $"{Gpu}.Embedding.Backward(dw, dy, x, {Sizes})", new[] { "dw", "dy", "x" }, new[] { dw, dy, x },
                $"{Gpu}.Launch.Elementwise({Int(_weight.Length)})"));
    }
}
