using Compiled.Generator.Emit;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Ops;

/// <summary>
/// The loss, fused with the output activation where that is stable and cheap (softmax + cross-entropy,
/// sigmoid + binary cross-entropy: gradient p − t at the logits). Writes the mean loss to <c>loss</c>, the
/// finished outputs to <see cref="Output"/> and dL/d(its input) to <see cref="Grad"/>.
/// </summary>
internal sealed class LossOp
{
    public LossOp(Loss loss, bool fused, WorkspaceBuffer input, WorkspaceBuffer output, WorkspaceBuffer grad, int outputs)
    {
        Loss = loss;
        Fused = fused;
        Input = input;
        Output = output;
        Grad = grad;
        Outputs = outputs;
    }

    public Loss Loss { get; }
    public bool Fused { get; }
    /// <summary>The logits when <see cref="Fused"/>, else the finished outputs.</summary>
    public WorkspaceBuffer Input { get; }
    public WorkspaceBuffer Output { get; }
    public WorkspaceBuffer Grad { get; }
    public int Outputs { get; }

    /// <summary>1 for sparse class labels, else one target per output.</summary>
    public int TargetSize => Loss == Loss.SparseCategoricalCrossEntropy ? 1 : Outputs;

    public void EmitForward(CodeWriter w)
    {
        string n = Int(Outputs);
        string losses = "global::Compiled.CompilerServices.Losses";
        switch (Loss)
        {
            case Loss.SparseCategoricalCrossEntropy:
                w.Line($"// loss = mean(−log softmax({Input.Local})[label]);  {Grad.Local} = (softmax − onehot(label)) / B   (fused, stable)");
                w.Line($"float loss = {losses}.SoftmaxCrossEntropySparse({Output.Local}, {Grad.Local}, {Input.Local}, t, batch, {n});");
                break;
            case Loss.CategoricalCrossEntropy:
                w.Line($"// loss = mean(−Σ t · log softmax({Input.Local}));  {Grad.Local} = (softmax − t) / B   (fused, stable)");
                w.Line($"float loss = {losses}.SoftmaxCrossEntropy({Output.Local}, {Grad.Local}, {Input.Local}, t, batch, {n});");
                break;
            case Loss.BinaryCrossEntropy:
                w.Line($"// loss = mean(BCE(sigmoid({Input.Local}), t)) on logits;  {Grad.Local} = (sigmoid − t) / (B·{n})   (fused, stable)");
                w.Line($"float loss = {losses}.SigmoidBinaryCrossEntropy({Output.Local}, {Grad.Local}, {Input.Local}, t, batch, {n});");
                break;
            default:
                w.Line($"// loss = mean((y − t)²);  {Grad.Local} = 2(y − t) / (B·{n})");
                w.Line($"float loss = {losses}.MeanSquaredError({Grad.Local}, {Output.Local}, t, batch, {n});");
                break;
        }
    }

    /// <summary>GPU form: one launch writing the mean loss to <c>loss[0]</c>, the samples right to <c>loss[1]</c>, and the gradient.</summary>
    public void EmitGpuForward(GpuContext gpu)
    {
        string n = Int(Outputs);
        string losses = GpuContext.Kernels + ".Losses";
        GpuKernel kernel = Loss switch
        {
            Loss.SparseCategoricalCrossEntropy => new GpuKernel("Loss",
                $"loss: {Output.Local} = softmax({Input.Local}); loss[0] = mean(−log {Output.Local}[label]); {Grad.Local} = ({Output.Local} − onehot) / B",
                new[] { "logits", "labels", "probs", "dlogits", "loss" }, "batch",
                $"{losses}.SoftmaxCrossEntropySparse(probs, dlogits, loss, logits, labels, batch, {n})"),
            Loss.CategoricalCrossEntropy => new GpuKernel("Loss",
                $"loss: {Output.Local} = softmax({Input.Local}); loss[0] = mean(−Σ t·log {Output.Local}); {Grad.Local} = ({Output.Local} − t) / B",
                new[] { "logits", "targets", "probs", "dlogits", "loss" }, "batch",
                $"{losses}.SoftmaxCrossEntropy(probs, dlogits, loss, logits, targets, batch, {n})"),
            Loss.BinaryCrossEntropy => new GpuKernel("Loss",
                $"loss: {Output.Local} = σ({Input.Local}); loss[0] = mean BCE on logits; {Grad.Local} = ({Output.Local} − t) / (B·{n})",
                new[] { "logits", "targets", "probs", "dlogits", "loss" }, "batch",
                $"{losses}.SigmoidBinaryCrossEntropy(probs, dlogits, loss, logits, targets, batch, {n})"),
            _ => new GpuKernel("Loss",
                $"loss: loss[0] = mean(({Output.Local} − t)²); {Grad.Local} = 2({Output.Local} − t) / (B·{n})",
                new[] { "y", "targets", "dy", "loss" }, "batch",
                $"{losses}.MeanSquaredError(dy, loss, y, targets, batch, {n})"),
        };
        gpu.Launch(kernel, GpuContext.Launches + ".Loss", Fused
            ? new[] { Input.Local, "t", Output.Local, Grad.Local, "loss" }
            : new[] { Output.Local, "t", Grad.Local, "loss" });
    }
}
