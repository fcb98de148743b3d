using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>
/// Makes one model safe to use from several threads: every generated model owns one. Prediction (<c>Forward</c>) takes
/// an inference workspace of its own, so any number of threads may predict at once; training (<c>Fit</c>) marks the
/// model as being trained, so a prediction or another <c>Fit</c> from another thread throws
/// <see cref="InvalidOperationException"/> instead of reading half-updated weights.
/// </summary>
/// <remarks>
/// <para>Workspaces: the model's own inference workspace is taken with one compare-and-swap; a thread that finds it
/// taken uses a workspace kept per thread (<see cref="ThreadStaticAttribute"/>, shared by every model on that thread
/// and grown to the largest batch it has predicted). Steady-state prediction allocates nothing on any thread.</para>
/// <para>Training: <see cref="BeginTraining"/> makes a version number odd, <see cref="EndTraining"/> even again. A
/// prediction notes the version when it starts and compares it when it ends, so a prediction that overlapped the start
/// or end of a <c>Fit</c> on another thread throws rather than return outputs computed from weights that changed under
/// it. The thread running <c>Fit</c> may predict (validation does).</para>
/// </remarks>
public sealed class ModelSync
{
    private readonly int _perSample;
    private readonly Lock _training = new();
    private float[] _workspace;
    private int _capacity;
    private int _origin;
    private int _busy;
    private int _version;
    private int _trainer;
    private string _trainerName = "";

    [ThreadStatic] private static float[]? t_workspace;
    [ThreadStatic] private static int t_origin, t_floats;

    /// <summary>Creates the guard of a model whose workspace holds <paramref name="workspacePerSample"/> floats per sample,
    /// with an inference workspace for one sample already allocated (single-sample prediction never allocates).</summary>
    public ModelSync(int workspacePerSample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workspacePerSample, 1);
        _perSample = workspacePerSample;
        _workspace = AlignedWorkspace.Allocate(workspacePerSample, out _origin);
        _capacity = 1;
    }

    /// <summary>Whether <c>Fit</c> is training the model now (on any thread).</summary>
    public bool IsTraining => (Volatile.Read(ref _version) & 1) != 0;

    /// <summary>
    /// Starts a prediction of <paramref name="batch"/> samples: returns a workspace no other thread is using, with room
    /// for at least <paramref name="batch"/> samples. Pair it with <see cref="ExitInference"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>Fit</c> is training the model on another thread.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public InferenceLease EnterInference(int batch)
    {
        int version = Volatile.Read(ref _version);
        if ((version & 1) != 0 && _trainer != Environment.CurrentManagedThreadId) ThrowTraining("predict with");
        if (Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
        {
            if (batch > _capacity) Grow(batch);
            return new InferenceLease(_workspace, _origin, _capacity, version, owned: true);
        }
        return Shared(batch, version);
    }

    /// <summary>Ends a prediction started with <see cref="EnterInference"/>: hands the workspace back.</summary>
    /// <exception cref="InvalidOperationException"><c>Fit</c> started or ended on another thread while this prediction
    /// ran, so its outputs may mix old and new weights.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ExitInference(in InferenceLease lease)
    {
        // The release store keeps the parameter reads before the version read below; the shared path needs a fence.
        if (lease.Owned) Volatile.Write(ref _busy, 0);
        else Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _version) != lease.Version) ThrowChanged();
    }

    /// <summary>Throws when <c>Fit</c> is training the model on another thread (a direct <c>ComputeGradients</c>
    /// call would race with it).</summary>
    /// <exception cref="InvalidOperationException"><c>Fit</c> is training the model on another thread.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CheckTrainer() => CheckTrainer("train");

    /// <summary>Throws when <c>Fit</c> is training the model on another thread; <paramref name="action"/> completes
    /// "Cannot ... this model now" in the message (for example "save" or "load weights into").</summary>
    /// <exception cref="InvalidOperationException"><c>Fit</c> is training the model on another thread.</exception>
    public void CheckTrainer(string action)
    {
        if ((Volatile.Read(ref _version) & 1) != 0 && _trainer != Environment.CurrentManagedThreadId) ThrowTraining(action);
    }

    /// <summary>Marks the model as being trained by the calling thread (<c>Fit</c> calls it before its first step).</summary>
    /// <param name="what">What trains it, for the message another thread gets (e.g. <c>Fit</c>).</param>
    /// <exception cref="InvalidOperationException">The model is already being trained.</exception>
    public void BeginTraining(string what)
    {
        lock (_training)
        {
            if ((_version & 1) != 0)
                throw new InvalidOperationException(
                    $"This model is already being trained ({_trainerName} on thread {_trainer}). One model trains on one " +
                    "thread at a time: wait for that call to return, or train a separate model instance.");
            _trainer = Environment.CurrentManagedThreadId;
            _trainerName = what;
            Interlocked.Increment(ref _version); // odd: training; publishes _trainer first
        }
    }

    /// <summary>Ends what <see cref="BeginTraining"/> started.</summary>
    public void EndTraining()
    {
        lock (_training)
        {
            if ((_version & 1) == 0) return;
            Interlocked.Increment(ref _version);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int batch)
    {
        int capacity = AlignedWorkspace.Capacity(batch);
        _workspace = AlignedWorkspace.Allocate(checked(capacity * _perSample), out _origin);
        _capacity = capacity;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private InferenceLease Shared(int batch, int version)
    {
        int capacity = AlignedWorkspace.Capacity(batch);
        float[]? workspace = t_workspace;
        if (workspace is null || t_floats < (long)capacity * _perSample)
        {
            t_workspace = workspace = AlignedWorkspace.Allocate(checked(capacity * _perSample), out t_origin);
            t_floats = capacity * _perSample;
        }
        // A multiple of 16 from 16 samples on, so this model's buffers start on cache lines as in its own workspace.
        return new InferenceLease(workspace, t_origin, AlignedWorkspace.CapacityWithin(t_floats / _perSample), version, owned: false);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowTraining(string action) =>
        throw new InvalidOperationException(
            $"Cannot {action} this model now: {_trainerName} is training it on thread {_trainer}, so its weights change " +
            "with every step. Predict after that call returns, or predict with a copy (save and load the weights into " +
            "another instance).");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowChanged() =>
        throw new InvalidOperationException(
            "Fit started or ended on another thread while this prediction ran, so its outputs may mix old and new " +
            "weights: do not use them. Do not predict with a model while another thread trains it.");
}

/// <summary>An inference workspace taken by <see cref="ModelSync.EnterInference"/>: the generated forward pass lays its
/// buffers out in it (buffer k at <c>Origin + offset·Capacity</c>).</summary>
public readonly struct InferenceLease
{
    internal InferenceLease(float[] workspace, int origin, int capacity, int version, bool owned)
    {
        Workspace = workspace;
        Origin = origin;
        Capacity = capacity;
        Version = version;
        Owned = owned;
    }

    /// <summary>The workspace, at least <see cref="Capacity"/> samples long.</summary>
    public float[] Workspace { get; }

    /// <summary>Where the layout starts in <see cref="Workspace"/>: its first element on a 64-byte line (see
    /// <see cref="AlignedWorkspace"/>).</summary>
    public int Origin { get; }

    /// <summary>The samples it has room for from <see cref="Origin"/>.</summary>
    public int Capacity { get; }

    internal int Version { get; }

    internal bool Owned { get; }
}
