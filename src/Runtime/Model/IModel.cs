using System.Collections.Immutable;

namespace Compiled;

/// <summary>
/// What the generator implements for every model class. The runtime's trainer, checkpoints and metrics
/// work through this interface; the model-specific part (the op sequence with constant shapes) is generated.
/// </summary>
/// <remarks>
/// Threads: prediction (<see cref="Forward"/>, and <c>Predict</c>, <c>PredictClass</c> and <c>Evaluate</c> on top of it)
/// is safe from any number of threads at once; each call gets a workspace no other thread uses. Training is one thread
/// at a time: while <c>Fit</c> trains a model, a prediction or another <c>Fit</c> from another thread throws
/// <see cref="InvalidOperationException"/> (see <see cref="Sync"/>). <see cref="ComputeGradients"/> called directly
/// uses the model's one training workspace and gradient arena, so call it from one thread at a time.
/// </remarks>
public interface IModel
{
    /// <summary>Floats per input sample.</summary>
    int InputSize { get; }

    /// <summary>Floats per output sample (after the final activation).</summary>
    int OutputSize { get; }

    /// <summary>Floats per target sample: 1 for sparse class labels, otherwise <see cref="OutputSize"/>.</summary>
    int TargetSize { get; }

    /// <summary>The loss the model trains on.</summary>
    Loss Loss { get; }

    /// <summary>
    /// Time steps per output sample: 1, or T when the output is a sequence <c>(T, C)</c> (a Dense layer applied at every
    /// step). The loss and the accuracy then apply per step, averaged over batch·T; sparse labels are T per sample.
    /// </summary>
    int OutputSteps => 1;

    /// <summary>
    /// The vocabulary of the <c>[Embedding]</c> the model starts with: every input is then a token id, a whole number in
    /// [0, InputVocabulary). 0 when the inputs are real-valued features.
    /// </summary>
    int InputVocabulary => 0;

    /// <summary>
    /// What the loss compares the output with: the data set's targets, or (<see cref="Compiled.LossTarget.Input"/>, an
    /// autoencoder) each sample's own features, which <c>Fit</c> and <c>Evaluate</c> then pass as the targets.
    /// </summary>
    LossTarget LossTarget => LossTarget.Targets;

    /// <summary>Every trainable parameter, in one contiguous arena (see <see cref="Tensors"/> for the layout).</summary>
    Span<float> Parameters { get; }

    /// <summary>The gradient of the loss for each parameter, same layout as <see cref="Parameters"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>The named tensors in the parameter arena, in order.</summary>
    ReadOnlySpan<TensorInfo> Tensors { get; }

    /// <summary>The layers in order, as the generator saw them (see <see cref="ModelSummary"/> for a table of them).</summary>
    /// <remarks>Generated models always list their layers; a hand-written implementation may keep this default, none.</remarks>
    ReadOnlySpan<LayerInfo> Layers => ReadOnlySpan<LayerInfo>.Empty;

    /// <summary>
    /// The model's non-trainable state in one arena (PyTorch's buffers: a BatchNorm layer's <c>running_mean</c>,
    /// <c>running_var</c> and <c>num_batches_tracked</c>): updated by training steps, read when predicting, saved by
    /// checkpoints, never touched by an optimizer. Empty for a model without such layers.
    /// </summary>
    Span<float> Buffers => Span<float>.Empty;

    /// <summary>The named tensors of <see cref="Buffers"/> (offsets in floats; an <see cref="TensorDataType.Int64"/> element
    /// takes two floats' bytes).</summary>
    ReadOnlySpan<TensorInfo> BufferTensors => ReadOnlySpan<TensorInfo>.Empty;

    /// <summary>
    /// The random stream training steps draw from (dropout masks: one draw per step). <c>Initialize(seed)</c> seeds it, so
    /// a seeded model trains the same way every run; saving and restoring it repeats a step's draws exactly.
    /// </summary>
    Rng Random { get; set; }

    /// <summary>
    /// The guard that makes prediction thread-safe and keeps <c>Fit</c> exclusive; generated models return their own.
    /// <see langword="null"/> (the default, for models written by hand) means no guard: such a model must not be shared
    /// between threads.
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    CompilerServices.ModelSync? Sync => null;

    /// <summary>Runs the model on <paramref name="batch"/> samples and writes the outputs. Thread-safe (see the
    /// remarks on <see cref="IModel"/>); it does not check the inputs for NaN or infinity (a NaN input gives NaN or
    /// arbitrary outputs): the <c>Predict</c> helpers do.</summary>
    void Forward(ReadOnlySpan<float> inputs, Span<float> outputs, int batch);

    /// <summary>
    /// Forward, loss and backward for one batch. Overwrites <see cref="Gradients"/> and returns the mean loss
    /// (with any L2 penalty). When <paramref name="outputs"/> is not empty it also receives the outputs.
    /// </summary>
    float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, Span<float> outputs, int batch);
}

/// <summary>The element type of a tensor in an arena (and in a checkpoint).</summary>
public enum TensorDataType
{
    /// <summary>32-bit floats (safetensors <c>F32</c>): every parameter.</summary>
    Float32,

    /// <summary>64-bit signed integers (safetensors <c>I64</c>), two floats' bytes each: a BatchNorm's <c>num_batches_tracked</c>.</summary>
    Int64,
}

/// <summary>One named tensor in a model's parameter (or buffer) arena. Immutable: its shape is a copy.</summary>
/// <param name="Name">The checkpoint name, PyTorch style (<c>layers.0.weight</c>).</param>
/// <param name="Offset">Where it starts in the arena, in floats.</param>
/// <param name="Shape">Its shape, outermost first (<c>[out, in]</c> for a Dense weight; empty for a scalar).</param>
/// <param name="DataType">Its element type (<see cref="TensorDataType.Float32"/> unless it is a counter).</param>
public sealed record TensorInfo(string Name, int Offset, ImmutableArray<int> Shape, TensorDataType DataType = TensorDataType.Float32)
{
    /// <summary>The floats of the arena it spans: <see cref="Length"/>, twice that for <see cref="TensorDataType.Int64"/>.</summary>
    public int Floats => DataType == TensorDataType.Int64 ? 2 * Length : Length;

    /// <summary>The number of elements.</summary>
    public int Length
    {
        get
        {
            int n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Equal when the name, offset, data type and every dimension are.</summary>
    public bool Equals(TensorInfo? other) =>
        other is not null && Name == other.Name && Offset == other.Offset && DataType == other.DataType &&
        Shape.AsSpan().SequenceEqual(other.Shape.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(Offset);
        hash.Add(DataType);
        foreach (int d in Shape) hash.Add(d);
        return hash.ToHashCode();
    }
}
