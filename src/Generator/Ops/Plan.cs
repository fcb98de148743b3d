using System.Collections.Generic;
using System.Linq;
using Compiled.Generator.Model;

namespace Compiled.Generator.Ops;

/// <summary>
/// A named tensor in the parameter arena (and, at the same offset, in the gradient arena), or, when
/// <see cref="IsBuffer"/>, in the buffer arena: non-trainable state such as running statistics, which the optimizer
/// never sees and checkpoints save.
/// </summary>
internal sealed class ParameterTensor
{
    public ParameterTensor(string name, int[] shape, int offset, bool isBuffer = false, bool isInt64 = false, string? layer = null)
    {
        Name = name;
        Layer = layer;
        Shape = shape;
        Offset = offset;
        IsBuffer = isBuffer;
        IsInt64 = isInt64;
        Property = Naming.Pascal(name);
        GradProperty = "d" + Property;
    }

    /// <summary>The checkpoint name, e.g. <c>layers.0.weight</c>.</summary>
    public string Name { get; }
    /// <summary>The layer that owns it (<c>layers.0</c>), which the checker names when its views collide.</summary>
    public string? Layer { get; }
    public int[] Shape { get; }
    public int Offset { get; }
    public int Length => Shape.Aggregate(1, (a, b) => a * b);
    /// <summary>In the buffer arena (non-trainable, no gradient).</summary>
    public bool IsBuffer { get; }
    /// <summary>Holds 64-bit integers (a counter), two floats' bytes each, viewed as <c>Span&lt;long&gt;</c>.</summary>
    public bool IsInt64 { get; }
    /// <summary>The floats of its arena it spans.</summary>
    public int Floats => IsInt64 ? 2 * Length : Length;
    /// <summary>The generated view of it: <c>Layers0Weight</c>.</summary>
    public string Property { get; }
    /// <summary>The generated view of its gradient: <c>dLayers0Weight</c>.</summary>
    public string GradProperty { get; }
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>What a workspace buffer holds, which decides the passes that touch it.</summary>
internal enum BufferRole
{
    /// <summary>A tensor of the forward pass (both passes).</summary>
    Activation,
    /// <summary>Kept by the training forward for the backward pass only (pre-activations, masks, argmax).</summary>
    Saved,
    /// <summary>dL/d(a tensor), written by the backward pass.</summary>
    Gradient,
}

/// <summary>An activation-sized buffer in the workspace: <see cref="PerSample"/> floats for each sample in the batch.</summary>
internal sealed class Buffer
{
    public Buffer(string property, string description, int perSample, int offset, BufferRole role, bool isInt = false, string? layer = null)
    {
        IsInt = isInt;
        Layer = layer;
        Property = property;
        Description = description;
        PerSample = perSample;
        Offset = offset;
        Role = role;
    }

    /// <summary>The generated view of it: <c>Layers0Out</c>.</summary>
    public string Property { get; }
    public string Description { get; }
    public int PerSample { get; }
    /// <summary>Where it starts, in floats per sample of capacity: the buffer is <c>ws[Offset·cap, (Offset + PerSample)·cap)</c>.</summary>
    public int Offset { get; }
    public BufferRole Role { get; }
    /// <summary>The layer that owns it (null: the model), which the checker names when its view collides.</summary>
    public string? Layer { get; }
    /// <summary>Holds ints (argmax indices) in the float workspace's floats, viewed as <c>Span&lt;int&gt;</c>.</summary>
    public bool IsInt { get; }
}

/// <summary>A tensor flowing between ops: the model input <c>x</c>, or an op's output buffer, with its gradient buffer.</summary>
internal sealed class Tensor
{
    public Tensor(int id, Shape shape, Buffer? buffer)
    {
        Id = id;
        Shape = shape;
        Buffer = buffer;
    }

    public int Id { get; }
    public Shape Shape { get; }
    /// <summary>Null for the model input, which is the caller's span.</summary>
    public Buffer? Buffer { get; }
    /// <summary>dL/d(this), when an op needs it (null for the model input).</summary>
    public Buffer? Grad { get; set; }
    public bool IsModelInput => Buffer is null;
    /// <summary>How generated code names it: <c>x</c> or the buffer's view.</summary>
    public string Ref => Buffer?.Property ?? "x";
    public int Size => (int)Shape.Size;
}

/// <summary>
/// The static memory plan and op list of one model: every parameter's offset in the arenas, every buffer's offset in
/// the workspace with its role, the tensors, and the ops in execution order. Built by <see cref="Lowering"/>.
/// </summary>
internal sealed class ModelPlan
{
    public ModelPlan(ModelSpec spec) => Spec = spec;

    public ModelSpec Spec { get; }
    public List<ParameterTensor> Parameters { get; } = new();
    public int ParameterCount { get; private set; }
    /// <summary>The non-trainable buffers (running statistics), in their own arena.</summary>
    public List<ParameterTensor> BufferTensors { get; } = new();
    /// <summary>Floats in the buffer arena.</summary>
    public int BufferFloats { get; private set; }
    public List<Buffer> Buffers { get; } = new();
    public int WorkspacePerSample { get; private set; }
    public List<Tensor> Tensors { get; } = new();
    public List<Op> Ops { get; } = new();
    public LossOp Loss { get; set; } = null!;
    public Tensor Input => Tensors[0];
    public Tensor Output => Ops[Ops.Count - 1].Output;
    public int InputSize => Input.Size;
    public int OutputSize => Output.Size;
    public int TargetSize => Loss.TargetSize;
    public int OutputSteps => Loss.Steps;
    public int InputVocabulary => Ops[0].InputVocabulary;

    /// <summary>The generated field holding the weights packed for prediction (<c>Cpu.PackedWeights</c>).</summary>
    public const string PackedWeightsField = "_packed";

    /// <summary>Weight matrices the prediction pass reads prepacked (slots of <see cref="PackedWeightsField"/>); 0: no field.</summary>
    public int PackedWeightSlots { get; private set; }

    /// <summary>Reserves the next slot of the prepacked weights for one layer's weight matrix.</summary>
    public int AddPackedWeights() => PackedWeightSlots++;

    /// <summary>Whether the training pass draws a random seed per step (an op such as Dropout uses it).</summary>
    public bool UsesStepSeed => Ops.Any(o => o.UsesStepSeed);

    /// <summary>Set when an arena would exceed <see cref="Checker.MaxArena"/> floats (the checker reports it; nothing is emitted).</summary>
    public bool Overflow { get; private set; }

    /// <summary>The size the overflowing arena asked for, in floats.</summary>
    public long RequestedFloats { get; private set; }

    public ParameterTensor AddParameter(string name, params int[] shape) => AddParameter(null, name, shape);

    /// <summary>Adds a parameter tensor owned by <paramref name="layer"/>.</summary>
    public ParameterTensor AddParameter(string? layer, string name, params int[] shape)
    {
        long length = shape.Aggregate(1L, (a, b) => System.Math.Min(a * b, Checker.MaxArena + 1));
        Grow(ParameterCount, length);
        var tensor = new ParameterTensor(name, shape, ParameterCount, layer: layer);
        Parameters.Add(tensor);
        if (!Overflow) ParameterCount += (int)length;
        return tensor;
    }

    /// <summary>Adds a non-trainable tensor to the buffer arena (a counter when <paramref name="isInt64"/>).</summary>
    public ParameterTensor AddStateBuffer(string name, bool isInt64, string? layer, params int[] shape)
    {
        var tensor = new ParameterTensor(name, shape, BufferFloats, isBuffer: true, isInt64: isInt64, layer: layer);
        Grow(BufferFloats, tensor.Floats);
        BufferTensors.Add(tensor);
        if (!Overflow) BufferFloats += tensor.Floats;
        return tensor;
    }

    public Buffer AddBuffer(string property, string description, int perSample, BufferRole role, bool isInt = false, string? layer = null)
    {
        Grow(WorkspacePerSample, perSample);
        var buffer = new Buffer(property, description, perSample, WorkspacePerSample, role, isInt, layer);
        Buffers.Add(buffer);
        if (!Overflow) WorkspacePerSample += perSample;
        return buffer;
    }

    private void Grow(long size, long more)
    {
        if (Overflow || size + more <= Checker.MaxArena) return;
        Overflow = true;
        RequestedFloats = size + more;
    }

    public Tensor AddTensor(Shape shape, Buffer? buffer)
    {
        var tensor = new Tensor(Tensors.Count, shape, buffer);
        Tensors.Add(tensor);
        return tensor;
    }

    /// <summary>The op that reads <paramref name="tensor"/>, when exactly one does.</summary>
    public Op? SoleConsumer(Tensor tensor)
    {
        Op? found = null;
        foreach (Op op in Ops)
        {
            if (!op.Inputs.Contains(tensor)) continue;
            if (found is not null) return null;
            found = op;
        }
        return found;
    }
}
