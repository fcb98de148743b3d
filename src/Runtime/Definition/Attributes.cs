using System.Diagnostics;

namespace Compiled;

/// <summary>
/// Declares the shape of one input sample, e.g. <c>[Input(784)]</c> or <c>[Input(28, 28, 1)]</c>.
/// The first layer attribute of a model; the layers that follow it run in source order.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class InputAttribute : Attribute
{
    /// <summary>Declares the input.</summary>
    /// <param name="shape">One sample's shape, outermost first: <c>784</c>, or <c>28, 28, 1</c> for an image (height, width, channels).</param>
    public InputAttribute(params int[] shape) => Shape = shape;

    /// <summary>The shape of one sample, outermost first.</summary>
    public int[] Shape { get; }
}

/// <summary>A fully connected layer: <c>y = act(x · Wᵀ + b)</c>, with <c>W</c> stored as [units, inputs].</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class DenseAttribute : Attribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">The number of outputs.</param>
    /// <param name="activation">The activation applied to them.</param>
    public DenseAttribute(int units, Activation activation = Activation.None)
    {
        Units = units;
        Activation = activation;
    }

    /// <summary>The number of outputs.</summary>
    public int Units { get; }

    /// <summary>The activation fused into the layer.</summary>
    public Activation Activation { get; }

    /// <summary>
    /// The tensor-name prefix in checkpoints. Defaults to PyTorch's <c>layers.N</c>, so a file holds
    /// <c>layers.N.weight</c> and <c>layers.N.bias</c>.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>L2 penalty on the weights: adds <c>L2 · Σ w²</c> to the loss (Keras' <c>kernel_regularizer=l2(L2)</c>).</summary>
    public double L2 { get; set; }
}

/// <summary>The loss the model is trained on, e.g. <c>[Loss(Loss.SparseCategoricalCrossEntropy)]</c>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class LossAttribute : Attribute
{
    /// <summary>Declares the loss.</summary>
    /// <param name="loss">The loss function.</param>
    public LossAttribute(Loss loss) => Loss = loss;

    /// <summary>The loss function.</summary>
    public Loss Loss { get; }

    /// <summary>
    /// What the output is compared with: the data set's targets (default) or, with <see cref="LossTarget.Input"/>, the
    /// model's own input (an autoencoder; the output must then have the input's size).
    /// </summary>
    public LossTarget Target { get; set; }
}
