using System.Diagnostics;

namespace Compiled;

/// <summary>
/// Batch normalisation, <c>[BatchNorm]</c>, as PyTorch's <c>BatchNorm1d</c> after a flat layer (statistics per feature)
/// or <c>BatchNorm2d</c> after an image layer (statistics per channel over the batch, height and width). While training
/// it normalises with the batch mean and biased variance and updates the running statistics (with the unbiased
/// variance) by <see cref="Momentum"/>; when predicting or evaluating it uses the running statistics. Its trainable
/// <c>weight</c> (γ, ones) and <c>bias</c> (β, zeros) are parameters; <c>running_mean</c>, <c>running_var</c> and
/// <c>num_batches_tracked</c> are buffers (<see cref="IModel.Buffers"/>) that the optimizer never touches and
/// checkpoints save, under PyTorch's names.
/// </summary>
/// <remarks>
/// Put the activation on the BatchNorm (<c>[Conv2D(32, 3)] [BatchNorm(Activation.Relu)]</c>), as a Keras user writes
/// <c>Conv2D</c>, <c>BatchNormalization</c>, <c>Activation("relu")</c>. <see cref="Momentum"/> is PyTorch's (the weight of
/// the new batch, 0.1), not Keras' (the weight of the old value, 0.99).
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class BatchNormAttribute : Attribute
{
    /// <summary>Batch normalisation with no activation after it.</summary>
    public BatchNormAttribute()
    {
    }

    /// <summary>Batch normalisation followed by <paramref name="activation"/>.</summary>
    /// <param name="activation">Applied to the normalised output (not Softmax).</param>
    public BatchNormAttribute(Activation activation) => Activation = activation;

    /// <summary>The activation applied after normalising (<see cref="Compiled.Activation.None"/> by default).</summary>
    public Activation Activation { get; set; }

    /// <summary>
    /// PyTorch's momentum, in [0, 1]: running ← (1 − momentum)·running + momentum·batch statistic (0.1 by default).
    /// </summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>Added to the variance before its square root (PyTorch's <c>eps</c>, 1e-5 by default); positive.</summary>
    public double Eps { get; set; } = 1e-5;

    /// <summary>The tensor-name prefix in checkpoints (PyTorch's <c>layers.N</c> by default).</summary>
    public string? Name { get; set; }
}
