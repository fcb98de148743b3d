using static Compiled.Generator.Naming;

namespace Compiled.Generator.Ops;

/// <summary>
/// The loss, fused with the output activation where that is stable and cheap (softmax + cross-entropy, sigmoid +
/// binary cross-entropy: gradient p − t at the logits). Writes the mean loss to <c>loss</c>, the finished outputs to the
/// model's output buffer and dL/d(its input) to the output's gradient buffer. A sequence output (T, C) is scored per
/// step: the kernels see batch·T rows of C, so the loss is the mean over batch·T (PyTorch's CrossEntropyLoss on
/// (N·T, C)) and sparse targets are T labels per sample.
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

    /// <summary>Time steps per output sample: T for a sequence output (T, C), else 1.</summary>
    public int Steps => _last.Output.Shape.Rank == 2 ? _last.Output.Shape[0] : 1;

    /// <summary>One class label per step for sparse labels, else one target per output.</summary>
    public int TargetSize => Loss == Loss.SparseCategoricalCrossEntropy ? Steps : _last.Output.Size;

    /// <summary>The statement that computes the loss and its gradient, on both targets.</summary>
    public Step Forward()
    {
        string cpu = _plan.Spec.Aliases.Cpu, gpu = _plan.Spec.Aliases.Gpu;
        string n = Int(_last.Output.Size / Steps);
        string batch = Steps == 1 ? "batch" : $"batch * {Int(Steps)}", b = Steps == 1 ? "B" : $"B·{Int(Steps)}";
        string y = _last.Output.Ref, dy = _last.Output.Grad!.Property;
        string z = _last.Logits?.Property ?? y;
        (string comment, string function) = Loss switch
        {
            Loss.SparseCategoricalCrossEntropy =>
                ($"loss = mean(−log softmax({z})[label]);  {dy} = (softmax − onehot(label)) / {b}   (fused, stable)", "SoftmaxCrossEntropySparse"),
            Loss.CategoricalCrossEntropy =>
                ($"loss = mean(−Σ t · log softmax({z}));  {dy} = (softmax − t) / {b}   (fused, stable)", "SoftmaxCrossEntropy"),
            Loss.BinaryCrossEntropy =>
                ($"loss = mean(BCE(sigmoid({z}), t)) on logits;  {dy} = (sigmoid − t) / ({b}·{n})   (fused, stable)", "SigmoidBinaryCrossEntropy"),
            _ => ($"loss = mean(({y} − t)²);  {dy} = 2({y} − t) / ({b}·{n})", "MeanSquaredError"),
        };
        if (Steps > 1) comment += $"\nper step: [B, {Int(Steps)}, {n}] scored as {b} rows of {n}";
        if (Loss == Loss.MeanSquaredError)
        {
            return new Step(comment, $"float loss = {cpu}.Losses.{function}({dy}, {y}, t, {batch}, {n});",
                new GpuCall("Loss", $"{gpu}.Losses.{function}(dy, loss, y, t, {batch}, {n})",
                    new[] { "dy", "loss", "y", "t" }, new[] { dy, "loss", y, "t" }, $"{gpu}.Launch.Loss"));
        }
        return new Step(comment, $"float loss = {cpu}.Losses.{function}({y}, {dy}, {z}, t, {batch}, {n});",
            new GpuCall("Loss", $"{gpu}.Losses.{function}(p, dz, loss, z, t, {batch}, {n})",
                new[] { "p", "dz", "loss", "z", "t" }, new[] { y, dy, "loss", z, "t" }, $"{gpu}.Launch.Loss"));
    }
}
