namespace Compiled;

/// <summary>
/// Thrown by <c>Fit</c> when training diverges: a step's loss, or a gradient, is NaN or infinite, or an update made a
/// parameter infinite. It names the epoch, the step and the first tensor (in backward order, so the layer nearest the
/// loss) whose gradient went non-finite.
/// </summary>
/// <remarks>
/// <para>The CPU trainer checks the loss and the whole gradient arena after every step, before the optimizer touches
/// anything, so when the loss or a gradient is at fault the model and the optimizer hold the state after the last
/// finite step (<see cref="ParametersRestored"/> is <see langword="true"/>: nothing had to be undone). It also scans the
/// parameters after every update: when finite gradients made the update overflow (a learning rate far too large), the
/// parameters are already written and are not put back, because that would need a copy of them before every step
/// (<see cref="ParametersRestored"/> is <see langword="false"/>); restore them from a checkpoint
/// (<c>Fit(..., checkpoint: path)</c> keeps one per epoch). The GPU trainer checks only the losses, as they come back at
/// each epoch's end: it names the epoch, and the model keeps the parameters it had before that <c>Fit</c>.</para>
/// <para>The usual causes: a learning rate too large, no gradient clipping (<see cref="Optimizer.ClipNorm"/>), or
/// data on a scale far from [0, 1].</para>
/// </remarks>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException(string message, int epoch, int step, long globalStep, float loss, string? tensor,
        bool parametersRestored)
        : base(message)
    {
        Epoch = epoch;
        Step = step;
        GlobalStep = globalStep;
        Loss = loss;
        Tensor = tensor;
        ParametersRestored = parametersRestored;
    }

    /// <summary>The epoch, counted from 1 (as <see cref="EpochMetrics.Epoch"/>).</summary>
    public int Epoch { get; }

    /// <summary>The step (batch) within the epoch, counted from 1 (on the GPU, which checks the losses as they come back,
    /// the last step read back).</summary>
    public int Step { get; }

    /// <summary>The optimizer step, counted from 1 over the whole run (<see cref="Optimizer.Steps"/> + 1); 0 from the GPU
    /// trainer, which does not know it.</summary>
    public long GlobalStep { get; }

    /// <summary>The step's mean loss (finite when only a gradient or the update went wrong).</summary>
    public float Loss { get; }

    /// <summary>The first tensor in backward order (nearest the loss) whose gradient is NaN or infinite, such as
    /// <c>layers.2.weight</c>; or, when the update overflowed, the first tensor whose parameters did; null when only the
    /// loss was non-finite.</summary>
    public string? Tensor { get; }

    /// <summary>Whether the model (and the optimizer's state) hold the state after the last finite step.</summary>
    public bool ParametersRestored { get; }
}
