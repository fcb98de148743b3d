using System.Collections.Generic;
using System.Globalization;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[BatchNorm(activation, Momentum, Eps, Name)]</c> as read.</summary>
internal sealed record BatchNormSpec(int Index, string? Name, Activation Activation, double Momentum, double Eps) : LayerSpec(Index, Name)
{
    public override string Kind => "BatchNorm";

    public override Activation? OutputActivation => Activation;
}

/// <summary>
/// The layer table's row for <c>[BatchNorm]</c>: a flat input of n features (PyTorch's <c>BatchNorm1d(n)</c>) or an image
/// <c>(H, W, C)</c> (<c>BatchNorm2d(C)</c>), the same shape out.
/// </summary>
internal sealed class BatchNormLayer : LayerKind
{
    public static readonly BatchNormLayer Instance = new();

    public override string AttributeName => "Compiled.BatchNormAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int before = reader.DiagnosticCount;
        Activation activation = reader.NamedEnum("Activation", reader.Enum(reader.Parameter("activation"), Activation.None));
        double momentum = reader.Named("Momentum", 0.1);
        double eps = reader.Named("Eps", 1e-5);
        if (!(momentum >= 0 && momentum <= 1))
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"The Momentum of BatchNorm layer {Int(index)} must be in [0, 1] (PyTorch's meaning: the weight of the new batch, 0.1 by default), " +
                $"but it is {momentum.ToString("R", CultureInfo.InvariantCulture)}");
        if (!(eps > 0) || double.IsInfinity(eps))
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"The Eps of BatchNorm layer {Int(index)} must be a finite number > 0 (1e-5 by default), but it is {eps.ToString("R", CultureInfo.InvariantCulture)}");
        if (activation == Activation.Softmax)
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"BatchNorm layer {Int(index)} cannot end in Softmax (it normalises each feature on its own); put [Dense(n, Activation.Softmax)] after it");
        return reader.HasErrors(before) ? null : new BatchNormSpec(index, name, activation, momentum, eps);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        if (input.Rank is 1 or 3) return input;
        check.Mismatch($"BatchNorm needs a flat input (features, as BatchNorm1d) or an image (height, width, channels, as BatchNorm2d), " +
            $"but layer {Int(layer.Index)} gets {input}");
        return null;
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (BatchNormSpec)layer;
        Shape input = context.Input.Shape;
        int channels = input.Rank == 3 ? input[2] : input[0];
        ParameterTensor weight = context.Parameter("weight", channels);
        ParameterTensor bias = context.Parameter("bias", channels);
        ParameterTensor runningMean = context.StateBuffer("running_mean", false, channels);
        ParameterTensor runningVar = context.StateBuffer("running_var", false, channels);
        ParameterTensor count = context.StateBuffer("num_batches_tracked", true);
        // [channels] each, in a per-sample slot of the workspace (the first `channels` floats are used).
        Buffer mean = context.Buffer("Mean", "batch mean per channel (first C floats)", channels, BufferRole.Saved);
        Buffer invStd = context.Buffer("InvStd", "1/√(batch var + eps) per channel (first C floats)", channels, BufferRole.Saved);
        bool fused = context.ActivationFusesIntoLoss(spec.Activation);
        Buffer? pre = fused || ActivationForms.NeedsPreActivation(spec.Activation)
            ? context.Buffer(fused ? "Logits" : "Pre", "normalised z", context.Input.Size, BufferRole.Activation)
            : null;
        Tensor output = context.OutputTensor(input);
        context.Add(new BatchNormOp(context.Plan, spec, context.Input, output, channels,
            new BatchNormTensors(weight, bias, runningMean, runningVar, count, mean, invStd, pre), fused));
    }
}

/// <summary>What a BatchNorm op owns: γ and β (parameters), the running statistics and counter (buffers), and the saved
/// batch statistics and pre-activation (workspace).</summary>
internal sealed record BatchNormTensors(ParameterTensor Weight, ParameterTensor Bias, ParameterTensor RunningMean, ParameterTensor RunningVar,
    ParameterTensor Count, Buffer Mean, Buffer InvStd, Buffer? Pre);

/// <summary>
/// Batch normalisation over [rows, C] with rows = batch (after a flat layer) or batch·H·W (after an image layer, NHWC, so a
/// channel's values run down a column). Training: z = (x − μ_B)·(σ²_B + eps)^−½·γ + β, y = f(z), running statistics
/// updated (unbiased variance) and num_batches_tracked += 1; inference: z = (x − running_mean)·(running_var + eps)^−½·γ + β.
/// Backward: dz = dy ⊙ f'(z); dβ = Σ dz; dγ = Σ dz·x̂; dx = γ·invStd/n·(n·dz − dβ − x̂·dγ). PyTorch's semantics throughout.
/// </summary>
internal sealed class BatchNormOp : Op
{
    private readonly BatchNormSpec _spec;
    private readonly BatchNormTensors _t;
    private readonly int _channels;

    public BatchNormOp(ModelPlan plan, BatchNormSpec spec, Tensor input, Tensor output, int channels, BatchNormTensors tensors, bool fusedIntoLoss)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _t = tensors;
        _channels = channels;
        FusedIntoLoss = fusedIntoLoss;
    }

    private Activation Act => _spec.Activation;

    private int Spatial => Input.Size / _channels;

    /// <summary>The rows of the [rows, C] view: the batch, times H·W for an image.</summary>
    private string Rows => Spatial == 1 ? "batch" : $"batch * {Int(Spatial)}";

    private string Kind => Input.Shape.Rank == 3 ? "BatchNorm2d" : "BatchNorm1d";

    public override string Summary => Act == Activation.None ? $"{Kind}({Int(_channels)})" : $"{Kind}({Int(_channels)}, {Act})";

    public override LayerDescription Describe()
        => new("BatchNorm", Act, new[] { _t.Weight, _t.Bias }, new[]
        {
            $"Momentum = {_spec.Momentum.ToString("R", CultureInfo.InvariantCulture)}", $"Epsilon = {_spec.Eps.ToString("R", CultureInfo.InvariantCulture)}",
            $"BufferNames = [\"{_t.RunningMean.Name}\", \"{_t.RunningVar.Name}\", \"{_t.Count.Name}\"]",
        });

    public override ActivatedOutput? Activated => new(Act, Output, _t.Pre);

    public override Buffer? Logits => FusedIntoLoss ? _t.Pre : null;

    public override IEnumerable<string> Initialize()
    {
        yield return $"{_t.Weight.Property}.Fill(1f); // {_t.Weight.Name} {_t.Weight.ShapeText}, γ = 1";
        yield return $"{_t.Bias.Property}.Clear(); // {_t.Bias.Name} {_t.Bias.ShapeText}, β = 0";
        yield return $"{_t.RunningMean.Property}.Clear(); // {_t.RunningMean.Name} {_t.RunningMean.ShapeText}, buffer";
        yield return $"{_t.RunningVar.Property}.Fill(1f); // {_t.RunningVar.Name} {_t.RunningVar.ShapeText}, buffer";
        yield return $"{_t.Count.Property}[0] = 0; // {_t.Count.Name}, buffer (int64)";
    }

    private string Momentum => Float(_spec.Momentum);

    private string Eps => Float(_spec.Eps);

    private string Shape => $"{Input.Ref}{(Input.Shape.Rank == 3 ? $"[B, {Int(Input.Shape[0])}, {Int(Input.Shape[1])}, {Int(_channels)}]" : $"[B, {Int(_channels)}]")}";

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string x = Input.Ref, y = Output.Ref, g = _t.Weight.Property, b = _t.Bias.Property;
        string rm = _t.RunningMean.Property, rv = _t.RunningVar.Property, c = Int(_channels);
        string header = $"{Name}: {Summary} over {Shape} as [{Rows}, {c}]";
        if (pass == Pass.Inference)
        {
            yield return new Step($"{header}, running statistics\n{y} = {ActivationForms.Formula(Act, $"({x} − {rm})·({rv} + {Eps})^−½·{g} + {b}")}",
                $"{Cpu}.BatchNorm.ForwardInference<{Cpu}.{ActivationForms.Struct(Act)}>({y}, {x}, {g}, {b}, {rm}, {rv}, {Rows}, {c}, {Eps});",
                new GpuCall("Inference", $"{Gpu}.BatchNorm.ForwardInference<{Gpu}.{ActivationForms.Struct(Act)}>(y, x, g, b, rm, rv, {Rows}, {c}, {Eps})",
                    new[] { "y", "x", "g", "b", "rm", "rv" }, new[] { y, x, g, b, rm, rv }, $"{Gpu}.BatchNorm.InferenceLaunch({Rows}, {c})"));
            yield break;
        }
        // Fused into the loss: write the logits only (the loss applies the sigmoid).
        string target = FusedIntoLoss ? _t.Pre!.Property : y;
        Activation act = FusedIntoLoss ? Activation.None : Act;
        string? pre = FusedIntoLoss ? null : _t.Pre?.Property;
        string m = _t.Mean.Property, inv = _t.InvStd.Property;
        yield return new Step(
            $"{header}, batch statistics\n{m} = mean({x});  {inv} = (biased var({x}) + {Eps})^−½;  " +
            $"{target} = {ActivationForms.Formula(act, $"({x} − {m})·{inv}·{g} + {b}")}{(FusedIntoLoss ? $"   ({Act} is fused into the loss)" : "")}\n" +
            $"{rm} ← {Float(1 - _spec.Momentum)}·{rm} + {Momentum}·{m};  {rv} ← {Float(1 - _spec.Momentum)}·{rv} + {Momentum}·unbiased var({x})",
            $"{Cpu}.BatchNorm.ForwardTraining<{Cpu}.{ActivationForms.Struct(act)}>({target}, {pre ?? "default"}, {m}, {inv}, {rm}, {rv}, {x}, {g}, {b}, " +
            $"{Rows}, {c}, {Momentum}, {Eps});",
            new GpuCall("Forward",
                $"{Gpu}.BatchNorm.ForwardTraining<{Gpu}.{ActivationForms.Struct(act)}>(y, z, mean, invStd, rm, rv, x, g, b, {Rows}, {c}, {Momentum}, {Eps}, " +
                $"{(pre is null ? "false" : "true")})",
                new[] { "y", "z", "mean", "invStd", "rm", "rv", "x", "g", "b" },
                new[] { target, pre ?? target, m, inv, rm, rv, x, g, b }, $"{Gpu}.BatchNorm.ChannelsLaunch({c})"));
        string count = _t.Count.Property;
        yield return new Step($"{_t.Count.Name} += 1",
            $"{count}[0]++;",
            new GpuCall("Count", $"{Gpu}.BatchNorm.CountBatch(count)", new[] { "count" }, new[] { count }, $"{Gpu}.BatchNorm.CountLaunch",
                null, IntViews: new[] { "count" }));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        string dy = Output.Grad!.Property;
        if (!FusedIntoLoss && Act != Activation.None && !(target == Target.Gpu && GpuDerivativeByConsumer))
            yield return ActivationBackward(Act, _t.Pre);

        string dg = _t.Weight.GradProperty, db = _t.Bias.GradProperty, x = Input.Ref, g = _t.Weight.Property;
        string m = _t.Mean.Property, inv = _t.InvStd.Property, c = Int(_channels);
        string dx = Input.IsModelInput ? "default" : Input.Grad!.Property;
        string xhat = $"x̂ = ({x} − {m})·{inv}";
        yield return new Step(
            $"{Name} backward: {db} = Σ dz;  {dg} = Σ dz·x̂   ({xhat}, dz = {dy})" +
            (Input.IsModelInput ? "   (first layer: no input gradient)" : $"\n{dx} = {g}·{inv}/n·(n·dz − {db} − x̂·{dg}),  n = {Rows}"),
            $"{Cpu}.BatchNorm.Backward({dx}, {dg}, {db}, {dy}, {x}, {m}, {inv}, {g}, {Rows}, {c});",
            new GpuCall("Backward",
                $"{Gpu}.BatchNorm.Backward(dx, dg, db, dz, x, mean, invStd, g, {Rows}, {c}, {(Input.IsModelInput ? "false" : "true")})",
                new[] { "dx", "dg", "db", "dz", "x", "mean", "invStd", "g" },
                new[] { Input.IsModelInput ? dy : dx, dg, db, dy, x, m, inv, g }, $"{Gpu}.BatchNorm.ChannelsLaunch({c})"));
    }
}
