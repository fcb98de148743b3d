using System.Diagnostics;

namespace Compiled;

/// <summary>
/// Inverted dropout, <c>[Dropout(0.5)]</c>: while training, each element is zeroed with probability <see cref="Rate"/>
/// and the kept ones are scaled by 1 / (1 − rate); when predicting or evaluating it is the identity (Keras' and
/// PyTorch's <c>Dropout</c>). The masks come from the model's random stream (<see cref="IModel.Random"/>), so a seeded
/// run is reproducible.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class DropoutAttribute : Attribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="rate">The fraction of elements dropped, in [0, 1).</param>
    public DropoutAttribute(double rate) => Rate = rate;

    /// <summary>The fraction of elements dropped while training.</summary>
    public double Rate { get; }

    /// <summary>The layer's name (it has no tensors; the name only labels it).</summary>
    public string? Name { get; set; }
}
