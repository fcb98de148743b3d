using System.Collections.Generic;
using System.Linq;
using Compiled.Generator.Model;

namespace Compiled.Generator.Ops;

/// <summary>A named tensor in the parameter arena (and, at the same offset, in the gradient arena).</summary>
internal sealed class ParameterTensor
{
    public ParameterTensor(string name, int[] shape, int offset)
    {
        Name = name;
        Shape = shape;
        Offset = offset;
        Local = Naming.Identifier(name);
        GradLocal = "d" + Naming.Pascal(name);
    }

    /// <summary>The checkpoint name, e.g. <c>layers.0.weight</c>.</summary>
    public string Name { get; }
    public int[] Shape { get; }
    public int Offset { get; }
    public int Length => Shape.Aggregate(1, (a, b) => a * b);
    /// <summary>The local that views it in generated code: <c>layers0Weight</c>.</summary>
    public string Local { get; }
    /// <summary>The local that views its gradient: <c>dLayers0Weight</c>.</summary>
    public string GradLocal { get; }
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>An activation-sized buffer in the workspace: <see cref="PerSample"/> floats for each sample in the batch.</summary>
internal sealed class WorkspaceBuffer
{
    public WorkspaceBuffer(string local, string description, int perSample, int offset)
    {
        Local = local;
        Description = description;
        PerSample = perSample;
        Offset = offset;
    }

    public string Local { get; }
    public string Description { get; }
    public int PerSample { get; }
    /// <summary>Where it starts, in floats per sample of capacity: the buffer is <c>ws[Offset·cap ..]</c>.</summary>
    public int Offset { get; }
}

/// <summary>
/// The static memory plan and op list of one model: every parameter's offset in the arenas, every
/// activation buffer's offset in the workspace, and the ops in execution order. Built by <see cref="Lowering"/>.
/// </summary>
internal sealed class ModelPlan
{
    public ModelPlan(ModelSpec spec) => Spec = spec;

    public ModelSpec Spec { get; }
    public int InputSize { get; set; }
    public int OutputSize { get; set; }
    public int TargetSize { get; set; }
    public List<ParameterTensor> Parameters { get; } = new();
    public int ParameterCount { get; private set; }
    public List<WorkspaceBuffer> Buffers { get; } = new();
    public int WorkspacePerSample { get; private set; }
    public List<Op> Ops { get; } = new();
    public LossOp LossOp { get; set; } = null!;

    public ParameterTensor AddParameter(string name, params int[] shape)
    {
        var tensor = new ParameterTensor(name, shape, ParameterCount);
        Parameters.Add(tensor);
        ParameterCount += tensor.Length;
        return tensor;
    }

    public WorkspaceBuffer AddBuffer(string local, string description, int perSample)
    {
        var buffer = new WorkspaceBuffer(local, description, perSample, WorkspacePerSample);
        Buffers.Add(buffer);
        WorkspacePerSample += perSample;
        return buffer;
    }
}
