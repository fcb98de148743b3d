using System.Collections.Generic;
using System.Globalization;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[Dense(units, activation, Name, L2)]</c> as read.</summary>
internal sealed record DenseSpec(int Index, string? Name, int Units, Activation Activation, double L2) : LayerSpec(Index, Name)
{
    public override string Kind => "Dense";

    public override Activation? OutputActivation => Activation;
}

/// <summary>
/// The layer table's row for <c>[Dense]</c>: a flat input of n features to <c>units</c> outputs, or a sequence
/// <c>(T, F)</c> to <c>(T, units)</c>, the same weights applied at every step (PyTorch's nn.Linear on the last axis).
/// </summary>
internal sealed class DenseLayer : LayerKind
{
    public static readonly DenseLayer Instance = new();

    public override string AttributeName => "Compiled.DenseAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int before = reader.DiagnosticCount;
        int units = reader.Int(0);
        Activation activation = reader.Enum(1, Activation.None);
        double l2 = reader.Named("L2", 0.0);
        if (units <= 0)
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The units of Dense layer {Int(index)}", Int(units));
        if (double.IsNaN(l2) || double.IsInfinity(l2) || l2 < 0)
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"L2 of Dense layer {Int(index)} must be a finite number ≥ 0, but it is {l2.ToString("R", CultureInfo.InvariantCulture)}");
        return reader.HasErrors(before) ? null : new DenseSpec(index, name, units, activation, l2);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        var dense = (DenseSpec)layer;
        if (input.Rank == 2) return new Shape(input[0], dense.Units); // per time step
        if (input.Rank != 1)
        {
            check.Mismatch($"Dense needs a flat input, but layer {Int(layer.Index)} gets {input} from the layer before; " +
                $"add [Flatten] before it{(layer.Index == 0 ? $", or declare the input flat: [Input({input.Size.ToString(CultureInfo.InvariantCulture)})]" : "")}");
            return null;
        }
        return new Shape(dense.Units);
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (DenseSpec)layer;
        int inputs = context.Input.Shape[context.Input.Shape.Rank - 1];
        ParameterTensor weight = context.Parameter("weight", spec.Units, inputs);
        ParameterTensor bias = context.Parameter("bias", spec.Units);
        bool fused = context.ActivationFusesIntoLoss(spec.Activation);
        Buffer? pre = fused || ActivationForms.NeedsPreActivation(spec.Activation)
            ? context.Buffer(spec.Activation == Activation.Softmax || fused ? "Logits" : "Pre", "pre-activation z", (int)spec.Output.Size,
                BufferRole.Activation)
            : null;
        Tensor output = context.OutputTensor(spec.Output);
        context.Add(new DenseOp(context.Plan, spec, context.Input, output, weight, bias, pre, fused, context.Plan.AddPackedWeights()));
    }
}

/// <summary>
/// Dense: z = x · Wᵀ + b, y = f(z), W stored as [units, inputs] (PyTorch's layout). Activations [batch, features]; a
/// sequence input [batch, T, features] is [batch·T, features] rows to the same kernels (one GEMM over every step).
/// Backward: dz = dy ⊙ f'(z); dW = dzᵀ · x; db = Σ_batch dz; dx = dz · W.
/// CPU: one GEMM with bias and activation in its epilogue forward, three GEMM-shaped products backward.
/// GPU: the same, and the backward kernel applies the producer's activation derivative to dx in its epilogue.
/// </summary>
internal sealed class DenseOp : Op
{
    private readonly DenseSpec _spec;
    private readonly ParameterTensor _weight, _bias;
    private readonly Buffer? _pre;
    private readonly int _packedSlot;

    public DenseOp(ModelPlan plan, DenseSpec spec, Tensor input, Tensor output, ParameterTensor weight, ParameterTensor bias,
        Buffer? pre, bool fusedIntoLoss, int packedSlot)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _packedSlot = packedSlot;
        _spec = spec;
        _weight = weight;
        _bias = bias;
        _pre = pre;
        FusedIntoLoss = fusedIntoLoss;
    }

    private int In => Input.Shape[Input.Shape.Rank - 1];

    /// <summary>Time steps per sample: 1 for a flat input, T for a sequence (T, F).</summary>
    private int Steps => Input.Shape.Rank == 2 ? Input.Shape[0] : 1;

    /// <summary>The rows every kernel sees: the batch, or batch·T for a sequence.</summary>
    private string Rows => Steps == 1 ? "batch" : $"batch * {Int(Steps)}";

    /// <summary>How comments write the rows: B, or B·T.</summary>
    private string R => Steps == 1 ? "B" : $"B·{Int(Steps)}";
    private int Units => _spec.Units;
    private Activation Act => _spec.Activation;

    public override string Summary => Act == Activation.None ? $"Dense({Int(Units)})" : $"Dense({Int(Units)}, {Act})";

    public override ActivatedOutput? Activated => new(Act, Output, _pre);

    public override LayerDescription Describe()
        => new(_spec.Kind, Act, new[] { _weight, _bias }, new[] { $"Units = {Int(Units)}", "UseBias = true" });

    public override Buffer? Logits => FusedIntoLoss ? _pre : null;

    public override bool FusesInputActivation(Target target) => target == Target.Gpu && !Input.IsModelInput;

    public override IEnumerable<string> Initialize()
    {
        // Cpu.Init.HeUniform(<Weight>, fanIn: <in>, ref rng); // <name>.weight [out, in], He
        yield return ActivationForms.UsesHeInit(Act)
            ? $"{Cpu}.Init.HeUniform({_weight.Property}, fanIn: {Int(In)}, ref rng); // {_weight.Name} {_weight.ShapeText}, He (ReLU family)"
            : $"{Cpu}.Init.GlorotUniform({_weight.Property}, fanIn: {Int(In)}, fanOut: {Int(Units)}, ref rng); // {_weight.Name} {_weight.ShapeText}, Glorot";
        yield return $"{_bias.Property}.Clear(); // {_bias.Name} {_bias.ShapeText}, zeros";
    }

    private string Sizes => $"{Rows}, {Int(In)}, {Int(Units)}";

    private string Z => $"{Input.Ref}[{R}, {Int(In)}] · {_weight.Property}{_weight.ShapeText}ᵀ + {_bias.Property}";

    // Prediction reads wᵀ packed once per weight change (slot k of the model's prepacked weights); training packs per call.
    private Step Gemm(Pass pass, string comment, string y, string? z, Activation act, string kernel)
    {
        string zArg = z ?? "default";
        string packed = pass == Pass.Inference ? $", {ModelPlan.PackedWeightsField}, {Int(_packedSlot)}" : "";
        return new Step(comment,
            $"{Cpu}.Dense.Forward<{Cpu}.{ActivationForms.Struct(act)}>({y}, {zArg}, {Input.Ref}, {_weight.Property}, {_bias.Property}, {Sizes}{packed});",
            new GpuCall(kernel,
                $"{Gpu}.Dense.Forward<{Gpu}.{ActivationForms.Struct(act)}>(y, {(z is null ? "y" : "z")}, x, w, b, {Sizes}, {(z is null ? "false" : "true")})",
                z is null ? new[] { "y", "x", "w", "b" } : new[] { "y", "z", "x", "w", "b" },
                z is null ? new[] { y, Input.Ref, _weight.Property, _bias.Property } : new[] { y, z, Input.Ref, _weight.Property, _bias.Property },
                $"{Gpu}.Launch.DenseForward({Rows}, {Int(Units)})"));
    }

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string header = $"{Name}: {Summary}, {Input.Shape.Bracketed} → {Output.Shape.Bracketed}" + (Steps == 1 ? "" : " (at every step)");
        if (FusedIntoLoss && pass == Pass.Training)
        {
            yield return Gemm(pass, $"{header}\n{_pre!.Property}[{R}, {Int(Units)}] = {Z}   ({Act} is fused into the loss)",
                _pre.Property, null, Activation.None, "Forward");
        }
        else if (Act == Activation.Softmax)
        {
            yield return Gemm(pass, $"{header}\n{_pre!.Property}[{R}, {Int(Units)}] = {Z}", _pre.Property, null, Activation.None, "Forward");
            yield return new Step($"{Output.Ref}[{R}, {Int(Units)}] = softmax({_pre.Property}) by row",
                $"{Cpu}.Activations.Softmax({Output.Ref}, {_pre.Property}, {Rows}, {Int(Units)});",
                new GpuCall("Softmax", $"{Gpu}.Activations.Softmax(y, z, {Rows}, {Int(Units)})", new[] { "y", "z" },
                    new[] { Output.Ref, _pre.Property }, $"{Gpu}.Launch.Rows({Rows})"));
        }
        else
        {
            // A sigmoid head fused into BCE when training applies its sigmoid here when predicting.
            string? z = FusedIntoLoss ? null : _pre?.Property;
            yield return Gemm(pass, $"{header}\n{Output.Ref}[{R}, {Int(Units)}] = {ActivationForms.Formula(Act, Z)}", Output.Ref, z, Act,
                FusedIntoLoss ? "Inference" : "Forward");
        }
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        string dy = Output.Grad!.Property;
        if (!FusedIntoLoss && Act == Activation.Softmax)
        {
            yield return new Step($"{Name} backward: {dy} = {Output.Ref} ⊙ ({dy} − Σ {dy}⊙{Output.Ref}), the softmax Jacobian",
                $"{Cpu}.Activations.SoftmaxBackward({dy}, {Output.Ref}, {Rows}, {Int(Units)});",
                new GpuCall("SoftmaxBackward", $"{Gpu}.Activations.SoftmaxBackward(dy, y, {Rows}, {Int(Units)})",
                    new[] { "dy", "y" }, new[] { dy, Output.Ref }, $"{Gpu}.Launch.Rows({Rows})"));
        }
        else if (!FusedIntoLoss && Act != Activation.None && !(target == Target.Gpu && GpuDerivativeByConsumer))
        {
            yield return ActivationBackward(Act, _pre);
        }

        string dw = _weight.GradProperty, db = _bias.GradProperty, x = Input.Ref, w = _weight.Property;
        if (Input.IsModelInput)
        {
            yield return new Step($"{Name} backward: {dw} = dzᵀ · {x};  {db} = Σ_{R} dz   (first layer: no input gradient)",
                $"{Cpu}.Dense.Backward(default, {dw}, {db}, {dy}, {x}, {w}, {Sizes});",
                new GpuCall("Backward", $"{Gpu}.Dense.BackwardWeights(dw, db, dz, x, {Sizes})", new[] { "dw", "db", "dz", "x" },
                    new[] { dw, db, dy, x }, $"{Gpu}.Launch.DenseBackwardWeights({Int(In)}, {Int(Units)})"));
            yield break;
        }
        string dx = Input.Grad!.Property;
        string comment = $"{Name} backward: {dw} = dzᵀ · {x};  {db} = Σ_{R} dz;  {dx} = dz · {w}";
        if (target == Target.Cpu)
        {
            yield return new Step(comment, $"{Cpu}.Dense.Backward({dx}, {dw}, {db}, {dy}, {x}, {w}, {Sizes});", null);
            yield break;
        }
        // The producer's activation derivative, applied to dx in this kernel's epilogue.
        ActivatedOutput? gate = GpuInputActivation;
        string act = ActivationForms.Struct(gate?.Activation ?? Activation.None);
        bool gatePre = gate?.PreActivation is not null;
        var parameters = new List<string> { "dx", "dw", "db", "dz", "x", "w", "yPrev" };
        var arguments = new List<string> { dx, dw, db, dy, x, w, gate?.Output.Ref ?? x };
        if (gatePre)
        {
            parameters.Add("zPrev");
            arguments.Add(gate!.PreActivation!.Property);
        }
        yield return new Step(comment + (gate is null ? "" : $" ⊙ {gate.Activation}'({(gatePre ? gate.PreActivation!.Property : gate.Output.Ref)})"),
            null,
            new GpuCall("Backward", $"{Gpu}.Dense.Backward<{Gpu}.{act}>(dx, dw, db, dz, x, w, yPrev, {(gatePre ? "zPrev" : "yPrev")}, {Sizes})",
                parameters.ToArray(), arguments.ToArray(), $"{Gpu}.Launch.DenseBackward({Rows}, {Int(In)}, {Int(Units)})"));
    }

    public override IEnumerable<Step> Regularization()
    {
        if (_spec.L2 <= 0) yield break;
        yield return new Step($"{Name}: loss += {Float(_spec.L2)}·Σ {_weight.Name}²;  {_weight.GradProperty} += 2·{Float(_spec.L2)}·{_weight.Property}",
            $"loss += {Cpu}.Dense.L2({_weight.GradProperty}, {_weight.Property}, {Float(_spec.L2)});",
            new GpuCall("L2", $"{Gpu}.Losses.L2(dw, loss, w, {Int(_weight.Length)}, {Float(_spec.L2)})", new[] { "dw", "loss", "w" },
                new[] { _weight.GradProperty, "loss", _weight.Property }, $"{Gpu}.Launch.Loss", null));
    }
}
