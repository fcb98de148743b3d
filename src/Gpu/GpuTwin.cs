using Compiled.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Compiled.Gpu;

/// <summary>
/// A model's state on a GPU and the runtime half of its GPU code. The generated subclass (nested in the model class)
/// supplies the model-specific launch sequences — <see cref="EnqueueForward"/> and <see cref="EnqueueGradients"/>, one
/// kernel launch per op with every size a literal — and this class does the rest: device arenas laid out exactly like
/// the CPU arenas (parameters and gradients at the offsets of <see cref="IModel.Tensors"/>, the workspace per sample of
/// capacity), uploads through pinned staging, the optimizer step, the loss ring, and downloads.
/// </summary>
/// <remarks>
/// <para>Not thread-safe, like the CPU model. Dispose it to free its device memory; the model itself keeps working on
/// the CPU. Parameters live on the device between steps: call <see cref="DownloadParameters()"/> to bring them back into
/// <see cref="IModel.Parameters"/> (the GPU <c>Fit</c> does at the end).</para>
/// <para>Per training step: the batch is written into one of two pinned staging buffers while the device still runs
/// the previous step, then one synchronisation, one upload, the model's launches, the optimizer's one launch; the loss
/// stays on the device in a ring of <see cref="LossRingSize"/> slots and comes back in one copy per
/// <see cref="LossRingSize"/> steps or when read.</para>
/// </remarks>
public abstract class GpuTwin : IDisposable
{
    /// <summary>Training steps whose losses the device holds before they are copied back in one download.</summary>
    public const int LossRingSize = 64;

    /// <summary>Floats per loss slot: the batch-mean loss, then the samples classified right (losses with an accuracy).</summary>
    public const int LossSlotSize = 2;

    private readonly MemoryBuffer1D<float, Stride1D.Dense> _parameters, _gradients, _buffers, _lossRing, _loss;
    private MemoryBuffer1D<float, Stride1D.Dense>? _workspace, _inputs, _targets;
    private readonly PageLockedArray1D<float>?[] _stageInputs = new PageLockedArray1D<float>?[2];
    private readonly PageLockedArray1D<float>?[] _stageTargets = new PageLockedArray1D<float>?[2];
    private readonly float[] _lossScratch = new float[LossRingSize * LossSlotSize];
    private readonly int[] _ringBatch = new int[LossRingSize];
    private readonly float[] _lossHost = new float[LossSlotSize];
    private readonly int _workspacePerSample, _outputOffset;
    private int _capacity, _stage, _ringCount, _drainedCount;
    private long _steps;
    private long _drainedSamples;
    private double _drainedSum, _drainedCorrect;
    private bool _disposed;

    /// <summary>Allocates the arenas on <paramref name="device"/> and uploads the model's parameters.</summary>
    /// <param name="model">The CPU model this twin mirrors (its arena layout and sizes).</param>
    /// <param name="device">Where the twin lives.</param>
    /// <param name="workspacePerSample">The generated <c>WorkspacePerSample</c>: floats of workspace per sample of capacity.</param>
    /// <param name="outputOffset">Where the model's output buffer starts in the workspace, per sample of capacity.</param>
    protected GpuTwin(IModel model, GpuDevice device, int workspacePerSample, int outputOffset)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(device);
        Model = model;
        Device = device;
        _workspacePerSample = workspacePerSample;
        _outputOffset = outputOffset;
        int n = model.Parameters.Length;
        _parameters = device.Allocate(n, $"parameter arena ({n:N0} floats)");
        _gradients = device.Allocate(n, $"gradient arena ({n:N0} floats)");
        int state = model.Buffers.Length;
        _buffers = device.Allocate(Math.Max(1, state), $"buffer arena ({state:N0} floats)");
        _lossRing = device.Allocate(LossRingSize * LossSlotSize, "loss ring");
        _loss = device.Allocate(LossSlotSize, "loss");
        UploadParameters();
    }

    /// <summary>The CPU model this twin mirrors.</summary>
    public IModel Model { get; }

    /// <summary>The device the twin lives on.</summary>
    public GpuDevice Device { get; }

    /// <summary>The batch size the workspace holds now (it grows on demand, like the CPU model's).</summary>
    public int Capacity => _capacity;

    /// <summary>Training steps taken by <see cref="TrainStep"/>.</summary>
    public long Steps => _steps;

    /// <summary>The parameter arena on the device (layout of <see cref="IModel.Tensors"/>).</summary>
    protected internal ArrayView<float> Parameters => _parameters.View;

    /// <summary>The buffer arena on the device (non-trainable state, layout of <see cref="IModel.BufferTensors"/>).</summary>
    protected internal ArrayView<float> Buffers => _buffers.View;

    /// <summary>The gradient arena on the device (same layout).</summary>
    protected internal ArrayView<float> Gradients => _gradients.View;

    /// <summary>The workspace: buffer k of the generated plan spans [offset·<see cref="Capacity"/>, (offset + size)·Capacity).</summary>
    protected ArrayView<float> Workspace => _workspace!.View;

    /// <summary>The uploaded inputs of the current batch, [batch, InputSize].</summary>
    protected ArrayView<float> Inputs(int batch) => _inputs!.View.SubView(0, (long)batch * Model.InputSize);

    /// <summary>The uploaded targets of the current batch, [batch, TargetSize].</summary>
    protected ArrayView<float> Targets(int batch) => _targets!.View.SubView(0, (long)batch * Model.TargetSize);

    /// <summary>
    /// Generated: launches the inference pass for <paramref name="batch"/> samples of <see cref="Inputs"/>, writing the
    /// finished outputs (after softmax or sigmoid) to the model's output buffer in the workspace.
    /// </summary>
    protected abstract void EnqueueForward(int batch);

    /// <summary>
    /// Generated: launches forward, loss and backward for <paramref name="batch"/> samples of <see cref="Inputs"/> and
    /// <see cref="Targets"/>, overwriting <see cref="Gradients"/>, leaving the outputs in the workspace at the
    /// training-output offset, and writing the batch-mean loss (with any L2 penalty) to <c>loss[0]</c> and the samples
    /// classified right to <c>loss[1]</c> (the loss kernels do both; the slot is <see cref="LossSlotSize"/> floats).
    /// </summary>
    protected abstract void EnqueueGradients(int batch, ArrayView<float> loss);

    /// <summary>Copies <see cref="IModel.Parameters"/> and <see cref="IModel.Buffers"/> to the device.</summary>
    public void UploadParameters()
    {
        ThrowIfDisposed();
        try
        {
            ReadOnlySpan<float> host = Model.Parameters;
            ((ArrayView<float>)_parameters.View).SubView(0, host.Length).CopyFromCPU(host);
            ReadOnlySpan<float> state = Model.Buffers;
            if (!state.IsEmpty) ((ArrayView<float>)_buffers.View).SubView(0, state.Length).CopyFromCPU(state);
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("uploading parameters", e);
        }
    }

    /// <summary>Copies the device's parameters and buffers back into <see cref="IModel.Parameters"/> and <see cref="IModel.Buffers"/>.</summary>
    public void DownloadParameters()
    {
        DownloadParameters(Model.Parameters);
        DownloadBuffers(Model.Buffers);
    }

    /// <summary>Copies the device's buffer arena (running statistics) into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the arena.</exception>
    public void DownloadBuffers(Span<float> destination)
    {
        ThrowIfDisposed();
        int n = Model.Buffers.Length;
        if (n == 0) return;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} floats; the buffer arena has {n}.", nameof(destination));
        try
        {
            ((ArrayView<float>)_buffers.View).SubView(0, n).CopyToCPU(destination.Slice(0, n));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("downloading buffers", e);
        }
    }

    /// <summary>Copies the device's parameters into <paramref name="destination"/> (arena layout), leaving the model as it is.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than the arena.</exception>
    public void DownloadParameters(Span<float> destination)
    {
        ThrowIfDisposed();
        int n = Model.Parameters.Length;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} floats; the arena has {n}.", nameof(destination));
        try
        {
            ((ArrayView<float>)_parameters.View).SubView(0, n).CopyToCPU(destination.Slice(0, n));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("downloading parameters", e);
        }
    }

    /// <summary>Copies the gradients of the last step into <paramref name="destination"/> (arena layout).</summary>
    public void DownloadGradients(Span<float> destination)
    {
        ThrowIfDisposed();
        int n = Model.Parameters.Length;
        if (destination.Length < n)
            throw new ArgumentException($"destination holds {destination.Length} floats; the arena has {n}.", nameof(destination));
        try
        {
            ((ArrayView<float>)_gradients.View).SubView(0, n).CopyToCPU(destination.Slice(0, n));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("downloading gradients", e);
        }
    }

    /// <summary>
    /// Runs the model on the device: outputs[batch, OutputSize] from inputs[batch, InputSize] (synchronous; the
    /// inputs go up through pinned staging and nothing is allocated once the capacity fits the batch).
    /// </summary>
    public void Forward(ReadOnlySpan<float> inputs, Span<float> outputs, int batch)
    {
        ThrowIfDisposed();
        ModelGuard.CheckForward(inputs.Length, outputs.Length, batch, Model.InputSize, Model.OutputSize);
        CheckInputs(inputs, batch);
        Stage(batch, out Span<float> x, out _);
        inputs.Slice(0, x.Length).CopyTo(x);
        int s = _stage;
        try
        {
            Device.Accelerator.Synchronize();
            var stream = Device.Accelerator.DefaultStream;
            Inputs(batch).CopyFrom(stream, _stageInputs[s]!.ArrayView.SubView(0, x.Length));
            EnqueueForward(batch);
            OutputView(batch).CopyToCPU(outputs.Slice(0, batch * Model.OutputSize));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("the forward pass", e);
        }
    }

    /// <summary>
    /// Forward, loss and backward for one batch on the device, synchronously: overwrites the device gradients (see
    /// <see cref="DownloadGradients"/>) and returns the mean loss; <paramref name="outputs"/>, when not empty, receives
    /// the outputs. The GPU counterpart of <see cref="IModel.ComputeGradients"/>.
    /// </summary>
    public float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, Span<float> outputs, int batch)
    {
        ThrowIfDisposed();
        ModelGuard.CheckTraining(inputs.Length, targets.Length, outputs.Length, batch, Model.InputSize, Model.TargetSize, Model.OutputSize);
        CheckInputs(inputs, batch);
        Stage(batch, out Span<float> x, out Span<float> t);
        inputs.Slice(0, x.Length).CopyTo(x);
        targets.Slice(0, t.Length).CopyTo(t);
        CheckTargets(t);
        int s = _stage;
        try
        {
            Device.Accelerator.Synchronize();
            var stream = Device.Accelerator.DefaultStream;
            Inputs(batch).CopyFrom(stream, _stageInputs[s]!.ArrayView.SubView(0, x.Length));
            Targets(batch).CopyFrom(stream, _stageTargets[s]!.ArrayView.SubView(0, t.Length));
            EnqueueGradients(batch, _loss.View);
            ((ArrayView<float>)_loss.View).CopyToCPU(_lossHost.AsSpan());
            if (!outputs.IsEmpty) OutputView(batch).CopyToCPU(outputs.Slice(0, batch * Model.OutputSize));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed("computing gradients", e);
        }
        return _lossHost[0];
    }

    /// <summary>
    /// One training step on the device: upload the batch through pinned staging, forward, loss, backward, and the
    /// optimizer's update of the whole arena. Asynchronous: the loss stays on the device until <see cref="ReadLosses(Span{float}, out double, out long, out double)"/>.
    /// </summary>
    public void TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, int batch, GpuOptimizer optimizer)
    {
        ThrowIfDisposed();
        ModelGuard.CheckTraining(inputs.Length, targets.Length, 0, batch, Model.InputSize, Model.TargetSize, Model.OutputSize);
        Stage(batch, out Span<float> x, out Span<float> t);
        inputs.Slice(0, x.Length).CopyTo(x);
        targets.Slice(0, t.Length).CopyTo(t);
        TrainStaged(batch, optimizer);
    }

    /// <summary>
    /// The pinned staging buffers for the next step's batch (the trainer gathers samples straight into them). The
    /// other pair may still be uploading; this pair's last upload finished a step ago.
    /// </summary>
    internal void Stage(int batch, out Span<float> inputs, out Span<float> targets)
    {
        EnsureCapacity(batch);
        int s = _stage;
        inputs = _stageInputs[s]!.Span.Slice(0, batch * Model.InputSize);
        targets = _stageTargets[s]!.Span.Slice(0, batch * Model.TargetSize);
    }

    /// <summary>Runs a step on the batch written by <see cref="Stage"/>.</summary>
    internal void TrainStaged(int batch, GpuOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        int s = _stage;
        CheckInputs(_stageInputs[s]!.Span.Slice(0, batch * Model.InputSize), batch);
        CheckTargets(_stageTargets[s]!.Span.Slice(0, batch * Model.TargetSize));
        if (_ringCount == LossRingSize) DrainRing();
        long step = _steps + 1;
        try
        {
            // The previous step must finish before its inputs are overwritten; the host filled this staging pair meanwhile.
            Device.Accelerator.Synchronize();
            var stream = Device.Accelerator.DefaultStream;
            Inputs(batch).CopyFrom(stream, _stageInputs[s]!.ArrayView.SubView(0, (long)batch * Model.InputSize));
            Targets(batch).CopyFrom(stream, _stageTargets[s]!.ArrayView.SubView(0, (long)batch * Model.TargetSize));
            EnqueueGradients(batch, _lossRing.View.SubView(_ringCount * LossSlotSize, LossSlotSize));
            optimizer.Enqueue(Device, _parameters.View.SubView(0, Model.Parameters.Length), _gradients.View.SubView(0, Model.Parameters.Length));
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed($"training step {step}", e);
        }
        _ringBatch[_ringCount++] = batch;
        _steps = step;
        _stage = 1 - s;
    }

    /// <summary>
    /// Waits for the queued steps and downloads their losses (one copy). Returns how many steps ran since the last call;
    /// <paramref name="weightedSum"/> is Σ loss·batch over them, <paramref name="samples"/> Σ batch (so the epoch loss
    /// is weighted by batch size, as the CPU trainer's) and <paramref name="correct"/> the samples classified right
    /// (meaningless for mean squared error); <paramref name="lastLosses"/>, when not empty, receives the per-step losses
    /// still held on the device (up to <see cref="LossRingSize"/>, oldest first).
    /// </summary>
    public int ReadLosses(Span<float> lastLosses, out double weightedSum, out long samples, out double correct)
    {
        ThrowIfDisposed();
        int inRing = _ringCount;
        DrainRing();
        inRing = Math.Min(inRing, lastLosses.Length);
        for (int i = 0; i < inRing; i++) lastLosses[i] = _lossScratch[i * LossSlotSize];
        int count = _drainedCount;
        weightedSum = _drainedSum;
        samples = _drainedSamples;
        correct = _drainedCorrect;
        _drainedCount = 0;
        _drainedSum = 0;
        _drainedSamples = 0;
        _drainedCorrect = 0;
        return count;
    }

    /// <summary>
    /// The totals <see cref="ReadLosses(Span{float}, out double, out long, out double)"/> would return for the steps
    /// already copied back (the ring drains by itself every <see cref="LossRingSize"/> steps), without waiting for the
    /// device or resetting them. False while none have come back.
    /// </summary>
    internal bool PeekLosses(out int steps, out double weightedSum, out long samples, out double correct)
    {
        steps = _drainedCount;
        weightedSum = _drainedSum;
        samples = _drainedSamples;
        correct = _drainedCorrect;
        return samples > 0;
    }

    /// <inheritdoc cref="ReadLosses(Span{float}, out double, out long, out double)"/>
    public int ReadLosses(Span<float> lastLosses, out double weightedSum, out long samples) =>
        ReadLosses(lastLosses, out weightedSum, out samples, out _);

    private void DrainRing()
    {
        int n = _ringCount;
        if (n == 0) return;
        Run("downloading losses", () =>
            ((ArrayView<float>)_lossRing.View).SubView(0, n * LossSlotSize).CopyToCPU(_lossScratch.AsSpan(0, n * LossSlotSize)));
        for (int i = 0; i < n; i++)
        {
            _drainedSum += (double)_lossScratch[i * LossSlotSize] * _ringBatch[i];
            _drainedCorrect += _lossScratch[i * LossSlotSize + 1] / Model.OutputSteps; // steps right → samples right
            _drainedSamples += _ringBatch[i];
        }
        _drainedCount += n;
        _ringCount = 0;
    }

    private ArrayView<float> OutputView(int batch) =>
        Workspace.SubView((long)_outputOffset * _capacity, (long)batch * Model.OutputSize);

    /// <summary>Token ids (a model that starts with an Embedding) are checked on the host, where the error can name the
    /// sample and the position; the device kernel would read out of its table.</summary>
    private void CheckInputs(ReadOnlySpan<float> inputs, int batch)
    {
        if (Model.InputVocabulary > 0) Embedding.CheckIds(inputs, batch, Model.InputSize, Model.InputVocabulary);
    }

    /// <summary>Class labels are checked on the host, where the error can say which sample is wrong.</summary>
    private void CheckTargets(ReadOnlySpan<float> targets)
    {
        if (Model.Loss != Loss.SparseCategoricalCrossEntropy) return;
        int classes = Model.OutputSize / Model.OutputSteps;
        foreach (float t in targets) Losses.Label(t, classes);
    }

    /// <summary>Grows the device workspace and I/O buffers to hold <paramref name="batch"/> samples.</summary>
    private void EnsureCapacity(int batch)
    {
        if (batch <= _capacity) return;
        Run("waiting before growing the workspace", () => Device.Accelerator.Synchronize());
        FreeBatchBuffers();
        _workspace = Device.Allocate((long)batch * _workspacePerSample, $"workspace for batch {batch} ({_workspacePerSample} floats per sample)");
        _inputs = Device.Allocate((long)batch * Model.InputSize, $"input buffer for batch {batch}");
        _targets = Device.Allocate((long)batch * Model.TargetSize, $"target buffer for batch {batch}");
        for (int s = 0; s < 2; s++)
        {
            _stageInputs[s] = Device.AllocateStaging((long)batch * Model.InputSize);
            _stageTargets[s] = Device.AllocateStaging((long)batch * Model.TargetSize);
        }
        _capacity = batch;
    }

    private void FreeBatchBuffers()
    {
        _workspace?.Dispose();
        _inputs?.Dispose();
        _targets?.Dispose();
        for (int s = 0; s < 2; s++)
        {
            _stageInputs[s]?.Dispose();
            _stageTargets[s]?.Dispose();
        }
    }

    /// <summary>Runs device work, turning ILGPU failures into <see cref="GpuKernelException"/>.</summary>
    private void Run(string what, Action work)
    {
        try
        {
            work();
        }
        catch (Exception e) when (e is not GpuException)
        {
            throw Failed(what, e);
        }
    }

    private GpuKernelException Failed(string what, Exception e) => Device.KernelFailed($"{what} of {Model.GetType().Name}", e);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Frees the twin's device memory (the CPU model is untouched).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        FreeBatchBuffers();
        _parameters.Dispose();
        _gradients.Dispose();
        _buffers.Dispose();
        _lossRing.Dispose();
        _loss.Dispose();
        GC.SuppressFinalize(this);
    }
}
