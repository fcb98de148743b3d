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
            ? $"global::Compiled.Init.HeUniform({slice}, fanIn: {Int(Inputs)}, ref rng); // {Weight.Name} {Weight.ShapeText}, He (ReLU family)"
            : $"global::Compiled.Init.GlorotUniform({slice}, fanIn: {Int(Inputs)}, fanOut: {Int(Units)}, ref rng); // {Weight.Name} {Weight.ShapeText}, Glorot");
        w.Line($"p.Slice({Int(Bias.Offset)}, {Int(Bias.Length)}).Clear(); // {Bias.Name} {Bias.ShapeText}, zeros");
    }

    public override void EmitForward(CodeWriter w, Pass pass)
    {
        string dense = "global::Compiled.Cpu.Dense.Forward";
        string args = $"{Input}, {Weight.Local}, {Bias.Local}";
        string sizes = $"batch, {Int(Inputs)}, {Int(Units)}";
        string zFormula = $"{Input}[B, {Int(Inputs)}] · {Weight.Local}{Weight.ShapeText}ᵀ + {Bias.Local}";
        w.Line($"// {Name}: {Summary}, {Int(Inputs)} → {Int(Units)}");

        if (FusedIntoLoss && pass == Pass.Training)
        {
            // Logits only: the loss applies the activation, fused with itself.
            w.Line($"// {PreActivation!.Local}[B, {Int(Units)}] = {zFormula}   ({Activation} is fused into the loss)");
            w.Line($"{dense}<global::Compiled.Cpu.Identity>({args}, {PreActivation.Local}, default, {sizes});");
        }
        else if (Activation == Activation.Softmax)
        {
            WorkspaceBuffer logits = PreActivation!;
            w.Line($"// {logits.Local}[B, {Int(Units)}] = {zFormula};  {Output.Local} = softmax({logits.Local}) by row");
            w.Line($"{dense}<global::Compiled.Cpu.Identity>({args}, {logits.Local}, default, {sizes});");
            w.Line($"global::Compiled.Cpu.Activations.Softmax({logits.Local}, {Output.Local}, batch, {Int(Units)});");
        }
        else
        {
            string pre = PreActivation is null || FusedIntoLoss ? "default" : PreActivation.Local;
            w.Line($"// {Output.Local}[B, {Int(Units)}] = {ActivationForms.Formula(Activation, zFormula)}");
            w.Line($"{dense}<{ActivationForms.CpuType(Activation)}>({args}, {Output.Local}, {pre}, {sizes});");
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
            w.Line($"global::Compiled.Cpu.Activations.SoftmaxBackward({Grad.Local}, {Output.Local}, batch, {Int(Units)}); // dz = y ⊙ (dy − Σ dy⊙y)");
        }
        else if (Activation != Activation.None)
        {
            string pre = PreActivation is null ? "default" : PreActivation.Local;
            w.Line($"global::Compiled.Cpu.Activations.Backward<{ActivationForms.CpuType(Activation)}>({Grad.Local}, {Output.Local}, {pre}); // dz = dy ⊙ {Activation}'");
        }
        string dx = InputGrad?.Local ?? "default";
        w.Line(InputGrad is null
            ? $"// {Weight.GradLocal} = dzᵀ · {Input};  {Bias.GradLocal} = Σ_B dz;  (first layer: no input gradient)"
            : $"// {Weight.GradLocal} = dzᵀ · {Input};  {Bias.GradLocal} = Σ_B dz;  {dx} = dz · {Weight.Local}");
        w.Line($"global::Compiled.Cpu.Dense.Backward({dx}, {Weight.GradLocal}, {Bias.GradLocal}, {Grad.Local}, {Input}, {Weight.Local}, batch, {Int(Inputs)}, {Int(Units)});");
    }

    public override void EmitRegularization(CodeWriter w)
    {
        if (L2 <= 0) return;
        w.Line($"loss += global::Compiled.Cpu.Dense.L2({Weight.Local}, {Weight.GradLocal}, {Float(L2)}); // L2 · Σ {Weight.Name}²");
    }
}
