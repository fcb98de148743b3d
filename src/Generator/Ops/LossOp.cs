using static Compiled.Generator.Naming;

namespace Compiled.Generator.Ops;

/// <summary>
/// The loss, fused with the output activation where that is stable and cheap (softmax + cross-entropy, sigmoid +
/// binary cross-entropy: gradient p − t at the logits). Writes the mean loss to <c>loss</c>, the finished outputs to the
/// model's output buffer and dL/d(its input) to the output's gradient buffer.
/// </summary>
internal sealed class LossOp
{
    private readonly ModelPlan _plan;
    private readonly Op _last;

    public LossOp(ModelPlan plan, Loss loss, Op last)
    {
        _plan = plan;
        _last = last;
        Loss = loss;
    }

    public Loss Loss { get; }

    /// <summary>1 for sparse class labels, else one target per output.</summary>
    public int TargetSize => Loss == Loss.SparseCategoricalCrossEntropy ? 1 : _last.Output.Size;

    /// <summary>The statement that computes the loss and its gradient, on both targets.</summary>
    public Step Forward()
    {
        string cpu = _plan.Spec.Aliases.Cpu, gpu = _plan.Spec.Aliases.Gpu;
        string n = Int(_last.Output.Size);
        string y = _last.Output.Ref, dy = _last.Output.Grad!.Property;
        string z = _last.Logits?.Property ?? y;
        (string comment, string function) = Loss switch
        {
            Loss.SparseCategoricalCrossEntropy =>
                ($"loss = mean(−log softmax({z})[label]);  {dy} = (softmax − onehot(label)) / B   (fused, stable)", "SoftmaxCrossEntropySparse"),
            Loss.CategoricalCrossEntropy =>
                ($"loss = mean(−Σ t · log softmax({z}));  {dy} = (softmax − t) / B   (fused, stable)", "SoftmaxCrossEntropy"),
            Loss.BinaryCrossEntropy =>
                ($"loss = mean(BCE(sigmoid({z}), t)) on logits;  {dy} = (sigmoid − t) / (B·{n})   (fused, stable)", "SigmoidBinaryCrossEntropy"),
            _ => ($"loss = mean(({y} − t)²);  {dy} = 2({y} − t) / (B·{n})", "MeanSquaredError"),
        };
        if (Loss == Loss.MeanSquaredError)
        {
            return new Step(comment, $"float loss = {cpu}.Losses.{function}({dy}, {y}, t, batch, {n});",
                new GpuCall("Loss", $"{gpu}.Losses.{function}(dy, loss, y, t, batch, {n})",
                    new[] { "dy", "loss", "y", "t" }, new[] { dy, "loss", y, "t" }, $"{gpu}.Launch.Loss"));
        }
        return new Step(comment, $"float loss = {cpu}.Losses.{function}({y}, {dy}, {z}, t, batch, {n});",
            new GpuCall("Loss", $"{gpu}.Losses.{function}(p, dz, loss, z, t, batch, {n})",
                new[] { "p", "dz", "loss", "z", "t" }, new[] { y, dy, "loss", z, "t" }, $"{gpu}.Launch.Loss"));
    }
}
