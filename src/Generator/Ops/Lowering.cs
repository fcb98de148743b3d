using Compiled.Generator.Layers;
using Compiled.Generator.Model;

namespace Compiled.Generator.Ops;

/// <summary>
/// Lowers a checked <see cref="ModelSpec"/> to a <see cref="ModelPlan"/>: each layer's row of the table adds its
/// parameters (PyTorch <c>state_dict</c> order), buffers and ops; then the gradient buffers, the loss, and the fusion
/// decisions the op contract allows.
/// </summary>
/// <remarks>
/// Workspace buffers are laid out per sample: buffer k occupies <c>[Offset_k · cap, (Offset_k + PerSample_k) · cap)</c>
/// for a workspace of capacity <c>cap</c> samples, so every buffer is a contiguous [batch, ...] tensor for any batch ≤ cap.
/// No buffer is reused: the forward pass keeps every activation the backward pass reads.
/// </remarks>
internal static class Lowering
{
    public static ModelPlan Lower(ModelSpec spec)
    {
        var plan = new ModelPlan(spec);
        Tensor current = plan.AddTensor(spec.InputShape, null);
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            var context = new LoweringContext(plan, layer, current, isLast: i == spec.Layers.Count - 1);
            LayerTable.Kind(layer).Lower(layer, context);
            current = context.Current;
        }

        // Gradients: every tensor but the model input gets one, after the forward buffers.
        foreach (Tensor tensor in plan.Tensors)
        {
            if (tensor.IsModelInput) continue;
            tensor.Grad = plan.AddBuffer("d" + tensor.Buffer!.Property, $"dL/d({tensor.Buffer.Property})", tensor.Size, BufferRole.Gradient,
                layer: tensor.Buffer.Layer);
        }

        Op last = plan.Ops[plan.Ops.Count - 1];
        plan.Loss = new LossOp(plan, spec.Loss, last);

        // CPU: an op that can run the max pooling behind it inside its own kernels does so (a few-filter convolution:
        // its output then stays in the kernel's tile buffer).
        foreach (Op op in plan.Ops)
        {
            if (plan.SoleConsumer(op.Output) is { FusablePool: { } pool } consumer && op.TakeCpuPool(pool))
                consumer.CpuRunByProducer = true;
        }

        // GPU: a consumer that can apply its producer's activation derivative in its own backward kernel does so.
        foreach (Op op in plan.Ops)
        {
            if (op.Activated is not { } activated || op.FusedIntoLoss || activated.Activation is Activation.None or Activation.Softmax) continue;
            if (plan.SoleConsumer(op.Output) is { } consumer && consumer.FusesInputActivation(Target.Gpu))
            {
                op.GpuDerivativeByConsumer = true;
                consumer.GpuInputActivation = activated;
            }
        }
        // CPU: a consumer that can compute its product per row of an embedding's table (fewer tokens than rows) does so,
        // and writes the table's gradient itself.
        foreach (Op op in plan.Ops)
        {
            if (op.GatheredTable is null || !op.Input.IsModelInput) continue;
            if (plan.SoleConsumer(op.Output) is { AbsorbsGather: true } consumer)
            {
                op.CpuBackwardByConsumer = true;
                consumer.Gather = op;
            }
        }
        return plan;
    }
}

/// <summary>What a layer's row sees while lowering it: the plan, its input tensor, and helpers that name what it adds.</summary>
internal sealed class LoweringContext
{
    private readonly LayerSpec _layer;

    public LoweringContext(ModelPlan plan, LayerSpec layer, Tensor input, bool isLast)
    {
        Plan = plan;
        _layer = layer;
        Input = input;
        Current = input;
        IsLast = isLast;
    }

    public ModelPlan Plan { get; }

    /// <summary>The tensor the layer reads.</summary>
    public Tensor Input { get; }

    /// <summary>The tensor the next layer reads (the last op's output).</summary>
    public Tensor Current { get; private set; }

    /// <summary>Whether this is the model's last layer (its output is the model's output).</summary>
    public bool IsLast { get; }

    /// <summary>The layer's identifier stem: <c>Layers0</c>.</summary>
    public string Stem => Naming.Pascal(_layer.LayerName);

    /// <summary>Adds <c>&lt;layer&gt;.&lt;suffix&gt;</c> to the parameter arena.</summary>
    public ParameterTensor Parameter(string suffix, params int[] shape)
        => Plan.AddParameter(_layer.LayerName, _layer.LayerName + "." + suffix, shape);

    /// <summary>Adds <c>&lt;layer&gt;.&lt;suffix&gt;</c> to the (non-trainable) buffer arena.</summary>
    public ParameterTensor StateBuffer(string suffix, bool isInt64, params int[] shape)
        => Plan.AddStateBuffer(_layer.LayerName + "." + suffix, isInt64, _layer.LayerName, shape);

    /// <summary>Adds a buffer named <c>&lt;Stem&gt;&lt;suffix&gt;</c> (the model's output is always <c>Output</c>).</summary>
    public Buffer Buffer(string suffix, string what, int perSample, BufferRole role, bool isInt = false)
        => Plan.AddBuffer(Stem + suffix, $"{_layer.LayerName} {what}", perSample, role, isInt, _layer.LayerName);

    /// <summary>The layer's output tensor: a new activation buffer, named <c>Output</c> for the last layer.</summary>
    public Tensor OutputTensor(Shape shape, string suffix = "Out", string what = "output y")
    {
        Buffer buffer = IsLast
            ? Plan.AddBuffer("Output", $"{_layer.LayerName} output, the model's output", (int)shape.Size, BufferRole.Activation, layer: _layer.LayerName)
            : Buffer(suffix, what, (int)shape.Size, BufferRole.Activation);
        return Plan.AddTensor(shape, buffer);
    }

    /// <summary>True when this layer ends the model and the loss absorbs <paramref name="activation"/>.</summary>
    public bool ActivationFusesIntoLoss(Activation activation)
        => IsLast && ActivationForms.FusesInto(Plan.Spec.Loss, activation);

    public void Add(Op op)
    {
        Plan.Ops.Add(op);
        Current = op.Output;
    }
}
