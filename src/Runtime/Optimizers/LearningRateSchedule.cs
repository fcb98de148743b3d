namespace Compiled;

/// <summary>
/// A learning rate per epoch, from the optimizer's base rate. <see cref="Optimizer.BeginEpoch"/> asks for the rate of
/// each epoch (counted from 0), the way a PyTorch scheduler's <c>step()</c> is called once per epoch.
/// </summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for <paramref name="epoch"/> (counted from 0) given the base rate.</summary>
    public abstract double Rate(double baseRate, int epoch);
}

/// <summary>
/// Multiplies the rate by <c>gamma</c> every <c>stepSize</c> epochs: <c>base · gamma^⌊epoch / stepSize⌋</c>
/// (PyTorch's <c>StepLR</c>).
/// </summary>
public sealed class StepDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="stepSize">Epochs between decays, ≥ 1.</param>
    /// <param name="gamma">The factor applied at each decay (PyTorch's default 0.1), finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public StepDecay(int stepSize, double gamma = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        if (!(gamma >= 0) || double.IsInfinity(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be a finite number ≥ 0.");
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>The factor applied at each decay.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double Rate(double baseRate, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return baseRate * Math.Pow(Gamma, epoch / StepSize);
    }
}

/// <summary>
/// Cosine annealing from the base rate to <c>minLearningRate</c> over <c>epochs</c> epochs:
/// <c>min + (base − min)·(1 + cos(π·epoch / epochs)) / 2</c> (PyTorch's <c>CosineAnnealingLR</c> with
/// <c>T_max = epochs</c>). As in PyTorch, past <c>epochs</c> the rate follows the cosine back up; train for at most
/// <c>epochs</c> epochs to end at the minimum.
/// </summary>
public sealed class CosineDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="epochs">The epochs from the base rate to the minimum (PyTorch's <c>T_max</c>), ≥ 1.</param>
    /// <param name="minLearningRate">The rate reached at <paramref name="epochs"/> (PyTorch's <c>eta_min</c>), ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range.</exception>
    public CosineDecay(int epochs, double minLearningRate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!(minLearningRate >= 0) || double.IsInfinity(minLearningRate))
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, "minLearningRate must be a finite number ≥ 0.");
        Epochs = epochs;
        MinLearningRate = minLearningRate;
    }

    /// <summary>The epochs from the base rate to the minimum.</summary>
    public int Epochs { get; }

    /// <summary>The rate reached after <see cref="Epochs"/> epochs.</summary>
    public double MinLearningRate { get; }

    /// <inheritdoc/>
    public override double Rate(double baseRate, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return MinLearningRate + (baseRate - MinLearningRate) * (1 + Math.Cos(Math.PI * epoch / Epochs)) / 2;
    }
}

/// <summary>Multiplies the rate by <c>gamma</c> every epoch: <c>base · gamma^epoch</c> (PyTorch's <c>ExponentialLR</c>).</summary>
public sealed class ExponentialDecay : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="gamma">The factor per epoch, finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gamma"/> is negative or not finite.</exception>
    public ExponentialDecay(double gamma)
    {
        if (!(gamma >= 0) || double.IsInfinity(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be a finite number ≥ 0.");
        Gamma = gamma;
    }

    /// <summary>The factor per epoch.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double Rate(double baseRate, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        return baseRate * Math.Pow(Gamma, epoch);
    }
}
