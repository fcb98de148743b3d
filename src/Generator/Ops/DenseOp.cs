using Compiled.Generator.Emit;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Ops;

/// <summary>
/// Dense: z = x · Wᵀ + b, y = f(z), W stored as [units, inputs].
/// Backward: dz = dy ⊙ f'(z); dW = dzᵀ · x; db = Σ_batch dz; dx = dz · W.
/// CPU form: one fused GEMM (bias and activation in its epilogue) forward, three GEMM-shaped products backward.
/// </summary>
internal sealed class DenseOp : Op
{
    private readonly string _name;

    public DenseOp(string name, int inputs, int units, Activation activation, bool fusedIntoLoss, double l2,
        ParameterTensor weight, ParameterTensor bias, string input, WorkspaceBuffer? inputGrad,
        WorkspaceBuffer output, WorkspaceBuffer? preActivation, WorkspaceBuffer grad)
    {
        _name = name;
        Inputs = inputs;
        Units = units;
        Activation = activation;
        FusedIntoLoss = fusedIntoLoss;
        L2 = l2;
        Weight = weight;
        Bias = bias;
        Input = input;
        InputGrad = inputGrad;
        Output = output;
        PreActivation = preActivation;
        Grad = grad;
    }

    public override string Name => _name;
    public int Inputs { get; }
    public int Units { get; }
    public Activation Activation { get; }
    /// <summary>The activation is applied by the loss (softmax + CE, sigmoid + BCE); <see cref="PreActivation"/> holds the logits.</summary>
    public bool FusedIntoLoss { get; }
    public double L2 { get; }
    public ParameterTensor Weight { get; }
    public ParameterTensor Bias { get; }
    /// <summary>The local holding the input: <c>x</c> or the previous layer's output buffer.</summary>
    public string Input { get; }
    /// <summary>Where dL/dx goes; null for the first layer, which needs no input gradient.</summary>
    public WorkspaceBuffer? InputGrad { get; }
    public WorkspaceBuffer Output { get; }
    public WorkspaceBuffer? PreActivation { get; }
    /// <summary>dL/dy on entry to backward, turned in place into dL/dz.</summary>
    public WorkspaceBuffer Grad { get; }

    public override string Summary => Activation == Activation.None
        ? $"Dense({Units})" : $"Dense({Units}, {Activation})";

    public override void EmitInitialize(CodeWriter w)
    {
        // Init.HeUniform(p.Slice(<offset>, <length>), fanIn: <in>, ref rng);   // <name>.weight [out, in]
        string slice = $"p.Slice({Int(Weight.Offset)}, {Int(Weight.Length)})";
        w.Line(ActivationForms.UsesHeInit(Activation)
            ? $"global::Compiled.CompilerServices.Init.HeUniform({slice}, fanIn: {Int(Inputs)}, ref rng); // {Weight.Name} {Weight.ShapeText}, He (ReLU family)"
            : $"global::Compiled.CompilerServices.Init.GlorotUniform({slice}, fanIn: {Int(Inputs)}, fanOut: {Int(Units)}, ref rng); // {Weight.Name} {Weight.ShapeText}, Glorot");
        w.Line($"p.Slice({Int(Bias.Offset)}, {Int(Bias.Length)}).Clear(); // {Bias.Name} {Bias.ShapeText}, zeros");
    }

    public override void EmitForward(CodeWriter w, Pass pass)
    {
        string dense = "global::Compiled.CompilerServices.Dense.Forward";
        string args = $"{Input}, {Weight.Local}, {Bias.Local}";
        string sizes = $"batch, {Int(Inputs)}, {Int(Units)}";
        string zFormula = $"{Input}[B, {Int(Inputs)}] · {Weight.Local}{Weight.ShapeText}ᵀ + {Bias.Local}";
        w.Line($"// {Name}: {Summary}, {Int(Inputs)} → {Int(Units)}");

        if (FusedIntoLoss && pass == Pass.Training)
        {
            // Logits only: the loss applies the activation, fused with itself.
            w.Line($"// {PreActivation!.Local}[B, {Int(Units)}] = {zFormula}   ({Activation} is fused into the loss)");
            w.Line($"{dense}<global::Compiled.CompilerServices.Identity>({PreActivation.Local}, default, {args}, {sizes});");
        }
        else if (Activation == Activation.Softmax)
        {
            WorkspaceBuffer logits = PreActivation!;
            w.Line($"// {logits.Local}[B, {Int(Units)}] = {zFormula};  {Output.Local} = softmax({logits.Local}) by row");
            w.Line($"{dense}<global::Compiled.CompilerServices.Identity>({logits.Local}, default, {args}, {sizes});");
            w.Line($"global::Compiled.CompilerServices.Activations.Softmax({Output.Local}, {logits.Local}, batch, {Int(Units)});");
        }
        else
        {
            string pre = PreActivation is null || FusedIntoLoss ? "default" : PreActivation.Local;
            w.Line($"// {Output.Local}[B, {Int(Units)}] = {ActivationForms.Formula(Activation, zFormula)}");
            w.Line($"{dense}<{ActivationForms.CpuType(Activation)}>({Output.Local}, {pre}, {args}, {sizes});");
        }
    }

    public override void EmitBackward(CodeWriter w)
    {
        w.Line($"// {Name} backward: {Grad.Local} = dL/d{(FusedIntoLoss ? "z" : "y")} [B, {Int(Units)}]");
        if (FusedIntoLoss)
        {
            // The fused loss already wrote dL/dz.
        }
        else if (Activation == Activation.Softmax)
        {
            w.Line($"global::Compiled.CompilerServices.Activations.SoftmaxBackward({Grad.Local}, {Output.Local}, batch, {Int(Units)}); // dz = y ⊙ (dy − Σ dy⊙y)");
        }
        else if (Activation != Activation.None)
        {
            string pre = PreActivation is null ? "default" : PreActivation.Local;
            w.Line($"global::Compiled.CompilerServices.Activations.Backward<{ActivationForms.CpuType(Activation)}>({Grad.Local}, {Output.Local}, {pre}); // dz = dy ⊙ {Activation}'");
        }
        string dx = InputGrad?.Local ?? "default";
        w.Line(InputGrad is null
            ? $"// {Weight.GradLocal} = dzᵀ · {Input};  {Bias.GradLocal} = Σ_B dz;  (first layer: no input gradient)"
            : $"// {Weight.GradLocal} = dzᵀ · {Input};  {Bias.GradLocal} = Σ_B dz;  {dx} = dz · {Weight.Local}");
        w.Line($"global::Compiled.CompilerServices.Dense.Backward({dx}, {Weight.GradLocal}, {Bias.GradLocal}, {Grad.Local}, {Input}, {Weight.Local}, batch, {Int(Inputs)}, {Int(Units)});");
    }

    public override void EmitRegularization(CodeWriter w)
    {
        if (L2 <= 0) return;
        w.Line($"loss += global::Compiled.CompilerServices.Dense.L2({Weight.GradLocal}, {Weight.Local}, {Float(L2)}); // L2 · Σ {Weight.Name}²");
    }

    // ── GPU form (contract: src/Gpu/GENERATED.md) ──

    private string Pascal => Naming.Pascal(Name);

    private string DenseForward(string act, bool storePre) =>
        $"{GpuContext.Kernels}.Dense.Forward<{act}>(y, {(storePre ? "z" : "y")}, x, w, b, batch, {Int(Inputs)}, {Int(Units)}, {(storePre ? "true" : "false")})";

    private static readonly string[] s_forwardViews = { "x", "w", "b", "y" };
    private static readonly string[] s_forwardPreViews = { "x", "w", "b", "y", "z" };

    public override void EmitGpuForward(GpuContext gpu, Pass pass)
    {
        string config = $"{GpuContext.Launches}.DenseForward(batch, {Int(Units)})";
        string zFormula = $"{Input}[B, {Int(Inputs)}] · {Weight.Local}{Weight.ShapeText}ᵀ + {Bias.Local}";
        string identity = GpuContext.Activation(Activation.None);
        if (FusedIntoLoss && Activation == Activation.Sigmoid && pass == Pass.Inference)
        {
            // Inference has no loss to fuse into: the sigmoid goes into the Dense epilogue.
            var inference = new GpuKernel(Pascal + "Inference", $"{Name} forward (inference): {Output.Local}[B, {Int(Units)}] = sigmoid({zFormula})",
                s_forwardViews, "batch", DenseForward(GpuContext.Activation(Activation.Sigmoid), storePre: false));
            gpu.Launch(inference, config, new[] { Input, Weight.Local, Bias.Local, Output.Local });
            return;
        }
        if (FusedIntoLoss || Activation == Activation.Softmax)
        {
            WorkspaceBuffer logits = PreActivation!;
            var forward = new GpuKernel(Pascal + "Forward",
                $"{Name} forward: {logits.Local}[B, {Int(Units)}] = {zFormula}" + (FusedIntoLoss ? $"   ({Activation} is fused into the loss when training)" : ""),
                s_forwardViews, "batch", DenseForward(identity, storePre: false));
            gpu.Launch(forward, config, new[] { Input, Weight.Local, Bias.Local, logits.Local });
            if (FusedIntoLoss && pass == Pass.Training) return;
            var softmax = new GpuKernel(Pascal + "Softmax", $"{Name} softmax: {Output.Local}[B, {Int(Units)}] = softmax({logits.Local}) by row",
                new[] { "z", "y" }, "batch", $"{GpuContext.Kernels}.Activations.Softmax(y, z, batch, {Int(Units)})");
            gpu.Launch(softmax, $"{GpuContext.Launches}.Rows(batch)", new[] { logits.Local, Output.Local });
            return;
        }
        bool storePre = PreActivation is not null;
        var kernel = new GpuKernel(Pascal + "Forward", $"{Name} forward: {Output.Local}[B, {Int(Units)}] = {ActivationForms.Formula(Activation, zFormula)}",
            storePre ? s_forwardPreViews : s_forwardViews, "batch", DenseForward(GpuContext.Activation(Activation), storePre));
        gpu.Launch(kernel, config, storePre
            ? new[] { Input, Weight.Local, Bias.Local, Output.Local, PreActivation!.Local }
            : new[] { Input, Weight.Local, Bias.Local, Output.Local });
    }

    public override void EmitGpuBackward(GpuContext gpu, Op? previous)
    {
        // This op's own activation derivative: applied here only where no earlier launch did it (a Softmax, or the
        // last layer under a loss it is not fused with); otherwise the next op's backward applied it.
        if (!FusedIntoLoss && Activation == Activation.Softmax)
        {
            var softmax = new GpuKernel(Pascal + "SoftmaxBackward", $"{Name} softmax backward: {Grad.Local} = y ⊙ ({Grad.Local} − Σ {Grad.Local}⊙y)",
                new[] { "grad", "y" }, "batch", $"{GpuContext.Kernels}.Activations.SoftmaxBackward(grad, y, batch, {Int(Units)})");
            gpu.Launch(softmax, $"{GpuContext.Launches}.Rows(batch)", new[] { Grad.Local, Output.Local });
        }
        else if (!FusedIntoLoss && Activation != Activation.None && Output.Local == "output")
        {
            bool pre = PreActivation is not null;
            var backward = new GpuKernel(Pascal + "ActivationBackward", $"{Name} activation backward: {Grad.Local} ⊙= {Activation}'",
                pre ? new[] { "grad", "y", "z" } : new[] { "grad", "y" }, "count",
                $"{GpuContext.Kernels}.Activations.Backward<{GpuContext.Activation(Activation)}>(grad, y, {(pre ? "z" : "y")}, count)");
            gpu.Launch(backward, $"{GpuContext.Launches}.Elementwise(batch * {Int(Units)})",
                pre ? new[] { Grad.Local, Output.Local, PreActivation!.Local } : new[] { Grad.Local, Output.Local }, $"batch * {Int(Units)}");
        }

        if (InputGrad is null)
        {
            var weights = new GpuKernel(Pascal + "Backward",
                $"{Name} backward (first layer, no input gradient): {Weight.GradLocal} = dzᵀ·{Input}; {Bias.GradLocal} = Σ_B dz",
                new[] { "dw", "db", "dz", "x" }, "batch",
                $"{GpuContext.Kernels}.Dense.BackwardWeights(dw, db, dz, x, batch, {Int(Inputs)}, {Int(Units)})");
            gpu.Launch(weights, $"{GpuContext.Launches}.DenseBackwardWeights({Int(Inputs)}, {Int(Units)})",
                new[] { Weight.GradLocal, Bias.GradLocal, Grad.Local, Input });
            return;
        }

        // The producer's activation is applied to dx in the same launch; a Softmax producer does its own.
        var producer = previous as DenseOp;
        Activation gate = producer is null || producer.Activation == Activation.Softmax ? Activation.None : producer.Activation;
        bool gatePre = gate != Activation.None && producer!.PreActivation is not null;
        string prevOut = producer?.Output.Local ?? Input;
        var kernel = new GpuKernel(Pascal + "Backward",
            $"{Name} backward: {Weight.GradLocal} = dzᵀ·{Input}; {Bias.GradLocal} = Σ_B dz; {InputGrad.Local} = dz · {Weight.Local}" +
                (gate == Activation.None ? "" : $" ⊙ {gate}'({(gatePre ? producer!.PreActivation!.Local : prevOut)})"),
            gatePre ? new[] { "dx", "dw", "db", "dz", "x", "w", "prevOut", "prevPre" } : new[] { "dx", "dw", "db", "dz", "x", "w", "prevOut" },
            "batch",
            $"{GpuContext.Kernels}.Dense.Backward<{GpuContext.Activation(gate)}>(dx, dw, db, dz, x, w, prevOut, {(gatePre ? "prevPre" : "prevOut")}, batch, {Int(Inputs)}, {Int(Units)})");
        var args = new System.Collections.Generic.List<string> { InputGrad.Local, Weight.GradLocal, Bias.GradLocal, Grad.Local, Input, Weight.Local, prevOut };
        if (gatePre) args.Add(producer!.PreActivation!.Local);
        gpu.Launch(kernel, $"{GpuContext.Launches}.DenseBackward(batch, {Int(Inputs)}, {Int(Units)})", args.ToArray());
    }

    public override void EmitGpuRegularization(GpuContext gpu)
    {
        if (L2 <= 0) return;
        var kernel = new GpuKernel(Pascal + "L2", $"{Name} L2: {Weight.GradLocal} += 2·{Float(L2)}·{Weight.Local};  loss[0] += {Float(L2)} · Σ {Weight.Name}²",
            new[] { "w", "dw", "loss" }, null, $"{GpuContext.Kernels}.Losses.L2(dw, loss, w, {Int(Weight.Length)}, {Float(L2)})");
        gpu.Launch(kernel, $"{GpuContext.Launches}.Loss", new[] { Weight.Local, Weight.GradLocal, "loss" });
    }
}
