using Compiled.Generator.Emit;

namespace Compiled.Generator.Ops;

/// <summary>Which pass is being written: inference (outputs only) or training (outputs, loss and gradients).</summary>
internal enum Pass
{
    Inference,
    Training,
}

/// <summary>
/// One row of the op table: an op knows its shape (fixed at lowering), the parameters and buffers it owns,
/// and writes its own forward and backward code. Emitters walk the op list and never look at layers.
/// </summary>
internal abstract class Op
{
    /// <summary>The checkpoint-style name of the layer this op came from, e.g. <c>layers.0</c>.</summary>
    public abstract string Name { get; }

    /// <summary>A one-line description for comments and the model summary, e.g. <c>Dense(128, Relu)</c>.</summary>
    public abstract string Summary { get; }

    /// <summary>Writes the statements that initialise this op's parameters (<c>rng</c> and <c>p</c> are in scope).</summary>
    public abstract void EmitInitialize(CodeWriter w);

    /// <summary>Writes the forward statements for <paramref name="pass"/>.</summary>
    public abstract void EmitForward(CodeWriter w, Pass pass);

    /// <summary>Writes the backward statements: gradient at the op's output in, parameter and input gradients out.</summary>
    public abstract void EmitBackward(CodeWriter w);

    /// <summary>Writes statements that add regularisation terms to <c>loss</c> and the gradients, if any.</summary>
    public virtual void EmitRegularization(CodeWriter w)
    {
    }

    /// <summary>GPU form: launches the forward kernels for <paramref name="pass"/> (declaring them on first use).</summary>
    public abstract void EmitGpuForward(GpuContext gpu, Pass pass);

    /// <summary>
    /// GPU form: launches the backward kernels. <paramref name="previous"/> is the op that produced this op's input
    /// (null for the first): on the GPU its activation derivative is applied by this op's backward, in the same launch.
    /// </summary>
    public abstract void EmitGpuBackward(GpuContext gpu, Op? previous);

    /// <summary>GPU form of <see cref="EmitRegularization"/>.</summary>
    public virtual void EmitGpuRegularization(GpuContext gpu)
    {
    }
}
