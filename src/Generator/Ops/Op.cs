using System.Collections.Generic;
using System.Linq;

namespace Compiled.Generator.Ops;

/// <summary>Which pass is being written: inference (outputs only) or training (outputs, loss and gradients).</summary>
internal enum Pass
{
    Inference,
    Training,
}

/// <summary>Where the code runs: the CPU file or the GPU twin.</summary>
internal enum Target
{
    Cpu,
    Gpu,
}

/// <summary>
/// One statement of a pass, with its math-and-shape comment: the CPU call and the GPU launch it is written as. Both
/// forms share the comment, so the twin reads like the CPU file. A form is null where that target has nothing to do.
/// </summary>
internal sealed record Step(string Comment, string? Cpu, GpuCall? Gpu);

/// <summary>
/// A GPU launch: a thin kernel <c>Gpu&lt;Op&gt;&lt;Kernel&gt;</c> whose body is one device-function call with literal sizes,
/// and the launch of it. <paramref name="Parameters"/> are the kernel's view parameters, bound to
/// <paramref name="Arguments"/> (the twin's views); <paramref name="Scalar"/> is its trailing int parameter (the batch
/// or an element count) or null, passed as <paramref name="ScalarArgument"/>; <paramref name="Extra"/> are further scalar
/// parameters after it, as "type name" (the twin passes the local of that name, such as the step's <c>seed</c>).
/// </summary>
internal sealed record GpuCall(string Kernel, string Body, string[] Parameters, string[] Arguments, string Config,
    string? Scalar = "batch", string? ScalarArgument = null, string[]? Extra = null, string[]? IntViews = null);

/// <summary>
/// What the runtime's <c>LayerInfo</c> says about the layer an op came from, beyond its name and shapes: the layer kind,
/// the activation it applies last, its parameter tensors, and its settings as C# initialisers (<c>Filters = 32</c>).
/// </summary>
internal sealed record LayerDescription(string Kind, Activation Activation, IReadOnlyList<ParameterTensor> Parameters, IReadOnlyList<string> Settings);

/// <summary>
/// A max pooling whose windows tile its input (stride = window, no padding), as its producer sees it when it may run the
/// pooling inside its own CPU kernels: the pooled output, the argmax buffer, the geometry field and a summary.
/// </summary>
internal sealed record PoolFusion(Tensor Output, Buffer Argmax, string ShapeField, string Summary);

/// <summary>What the backward pass of an activation needs: the function, its output and, when it reads it, its input.</summary>
internal sealed record ActivatedOutput(Activation Activation, Tensor Output, Buffer? PreActivation);

/// <summary>
/// One op of the plan: its inputs and output tensors (by id, so a graph needs no new representation), the parameters
/// and buffers it owns, and its forward and backward steps for both targets. Emitters walk the op list and read only
/// this contract: they never cast to a concrete op or look at buffer names.
/// </summary>
internal abstract class Op
{
    protected Op(ModelPlan plan, string name, IReadOnlyList<Tensor> inputs, Tensor output)
    {
        Plan = plan;
        Name = name;
        Inputs = inputs;
        Output = output;
    }

    public ModelPlan Plan { get; }

    /// <summary>The checkpoint-style name of the layer this op came from, e.g. <c>layers.0</c>.</summary>
    public string Name { get; }

    /// <summary>A PascalCase form of <see cref="Name"/> for kernel names: <c>Layers0</c>.</summary>
    public string Pascal => Naming.Pascal(Name);

    /// <summary>The tensors it reads (by id: <see cref="Tensor.Id"/>).</summary>
    public IReadOnlyList<Tensor> Inputs { get; }

    public Tensor Input => Inputs[0];

    public Tensor Output { get; }

    /// <summary>One line for comments and summaries, e.g. <c>Dense(128, Relu)</c>.</summary>
    public abstract string Summary { get; }

    /// <summary>The layer as the generated <c>Layers</c> property describes it (kind, activation, parameters, settings).</summary>
    public abstract LayerDescription Describe();

    /// <summary>Members the CPU file declares once for this op (a static geometry its kernels take), one per line.</summary>
    public virtual IEnumerable<string> Declarations() => Enumerable.Empty<string>();

    /// <summary>The statements that initialise its parameters (<c>rng</c> is in scope).</summary>
    public virtual IEnumerable<string> Initialize() => Enumerable.Empty<string>();

    /// <summary>The forward steps of <paramref name="pass"/>.</summary>
    public abstract IEnumerable<Step> Forward(Pass pass);

    /// <summary>
    /// The backward steps on <paramref name="target"/>: dL/d(output) is in <c>Output.Grad</c>; they write the parameter
    /// gradients and, unless the input is the model's, dL/d(input) into <c>Input.Grad</c> (overwritten).
    /// </summary>
    public abstract IEnumerable<Step> Backward(Target target);

    /// <summary>Steps adding a penalty to the loss and its gradient (L2), after the backward pass.</summary>
    public virtual IEnumerable<Step> Regularization() => Enumerable.Empty<Step>();

    // ── the contract the plan and emitters read ──

    /// <summary>The activation this op applies last, when its backward starts by applying the derivative (null: none).</summary>
    public virtual ActivatedOutput? Activated => null;

    /// <summary>Whether, on <paramref name="target"/>, this op's backward can apply its producer's activation derivative
    /// to dL/d(input) in the same kernel (saving the producer a pass).</summary>
    public virtual bool FusesInputActivation(Target target) => false;

    /// <summary>This op as a max pooling its producer may run inside its own CPU kernels, or null.</summary>
    public virtual PoolFusion? FusablePool => null;

    /// <summary>Whether this op runs <paramref name="pool"/>, its sole consumer, inside its own CPU forward and backward
    /// (called once by the plan; true means it will).</summary>
    public virtual bool TakeCpuPool(PoolFusion pool) => false;

    /// <summary>Set by the plan: this op's producer runs it on the CPU, so its CPU forms are left out (the GPU's stay).</summary>
    public bool CpuRunByProducer { get; set; }

    /// <summary>Set by the plan: the consumer applies this op's activation derivative on the GPU (skip it here).</summary>
    public bool GpuDerivativeByConsumer { get; set; }

    /// <summary>Set by the plan: the producer's activation whose derivative this op applies on the GPU, or null.</summary>
    public ActivatedOutput? GpuInputActivation { get; set; }

    /// <summary>The loss applies this op's output activation (softmax + CE, sigmoid + BCE): in training the forward
    /// pass writes only <see cref="Logits"/>, and backward starts from dL/d(logits).</summary>
    public bool FusedIntoLoss { get; protected set; }

    /// <summary>The pre-activation the loss reads when <see cref="FusedIntoLoss"/>.</summary>
    public virtual Buffer? Logits => null;

    /// <summary>The vocabulary of the token ids this op reads from the model's input (an Embedding), else 0.</summary>
    public virtual int InputVocabulary => 0;

    /// <summary>The parameter table whose rows this op's output copies, picked by the model's input ids (an Embedding),
    /// else null: a consumer whose product is linear in its input can then compute that product once per table row.</summary>
    public virtual ParameterTensor? GatheredTable => null;

    /// <summary>Whether, on the CPU, this op can take a <see cref="GatheredTable"/> producer's place: compute its product
    /// per table row and write the table's gradient itself.</summary>
    public virtual bool AbsorbsGather => false;

    /// <summary>Set by the plan: the producer with a <see cref="GatheredTable"/> whose table this op reads on the CPU, or null.</summary>
    public Op? Gather { get; set; }

    /// <summary>Set by the plan: on the CPU, the consumer writes this op's parameter gradient (its CPU backward is empty).</summary>
    public bool CpuBackwardByConsumer { get; set; }

    /// <summary>Whether its training forward draws from the step's random seed (<c>seed</c> in scope).</summary>
    public virtual bool UsesStepSeed => false;

    /// <summary>
    /// The step that turns dL/d(output) into dL/d(pre-activation) in place: <c>dy ⊙= f'(z)</c>, f' read from the output
    /// (and from <paramref name="pre"/>, the kept pre-activation, when the activation needs it).
    /// </summary>
    protected Step ActivationBackward(Activation activation, Buffer? pre)
    {
        string dy = Output.Grad!.Property, y = Output.Ref, z = pre?.Property ?? "default";
        string own = ActivationForms.Struct(activation), count = $"batch * {Naming.Int(Output.Size)}";
        return new Step($"{Name} backward: {dy} ⊙= {activation}'({pre?.Property ?? y})",
            $"{Cpu}.Activations.Backward<{Cpu}.{own}>({dy}, {y}, {z}, {count});",
            new GpuCall("ActivationBackward", $"{Gpu}.Activations.Backward<{Gpu}.{own}>(dy, y, {(pre is null ? "y" : "z")}, count)",
                pre is null ? new[] { "dy", "y" } : new[] { "dy", "y", "z" },
                pre is null ? new[] { dy, y } : new[] { dy, y, pre.Property },
                $"{Gpu}.Launch.Elementwise({count})", "count", count));
    }

    protected string Cpu => Plan.Spec.Aliases.Cpu;

    protected string Gpu => Plan.Spec.Aliases.Gpu;
}
