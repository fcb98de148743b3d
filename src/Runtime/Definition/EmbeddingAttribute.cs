using System.Diagnostics;

namespace Compiled;

/// <summary>
/// A lookup table of token vectors, <c>[Embedding(vocabulary, width)]</c>, as PyTorch's <c>nn.Embedding</c>: the input is
/// <c>(T)</c> token ids (whole numbers in [0, vocabulary), carried as floats in the input span) and the output
/// <c>(T, width)</c> holds row <c>id</c> of the weight for each step. The weight is <c>[vocabulary, width]</c>, named
/// <c>&lt;layer&gt;.weight</c>, initialised N(0, 1) as PyTorch does. It must be the first layer after <c>[Input(T)]</c>.
/// </summary>
/// <remarks>An id that is not a whole number in [0, vocabulary) is an <see cref="ArgumentException"/> naming the sample
/// and the position, raised before anything changes (Fit checks the whole data set before its first step).</remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class EmbeddingAttribute : Attribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="vocabulary">The number of token ids (rows of the table).</param>
    /// <param name="width">The length of each token's vector.</param>
    public EmbeddingAttribute(int vocabulary, int width)
    {
        Vocabulary = vocabulary;
        Width = width;
    }

    /// <summary>The number of token ids.</summary>
    public int Vocabulary { get; }

    /// <summary>The length of each token's vector.</summary>
    public int Width { get; }

    /// <summary>The tensor-name prefix in checkpoints. Defaults to PyTorch's <c>layers.N</c> (<c>layers.N.weight</c>).</summary>
    public string? Name { get; set; }
}
