using System.Diagnostics;

namespace Compiled;

/// <summary>
/// What the recurrent layers share: <c>units</c> hidden units, whether the whole sequence of hidden states or only the
/// last one is the output, and the checkpoint name. Input: a sequence of vectors <c>(T, F)</c>, e.g. <c>[Input(T, F)]</c>
/// or a recurrent layer before it with <see cref="ReturnSequences"/> set. Zero initial state; parameters stored and
/// named as PyTorch's <c>nn.RNN</c> / <c>nn.LSTM</c> / <c>nn.GRU</c> (batch_first) would have them:
/// <c>weight_ih_l0 [G·units, F]</c>, <c>weight_hh_l0 [G·units, units]</c>, <c>bias_ih_l0</c>, <c>bias_hh_l0</c>.
/// </summary>
public abstract class RecurrentAttribute : Attribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">The size of the hidden state.</param>
    protected RecurrentAttribute(int units) => Units = units;

    /// <summary>The size of the hidden state.</summary>
    public int Units { get; }

    /// <summary>
    /// False (the default): the output is the last step's hidden state <c>(units)</c>. True: every step's,
    /// <c>(T, units)</c>, which another recurrent layer can take.
    /// </summary>
    public bool ReturnSequences { get; set; }

    /// <summary>The tensor-name prefix in checkpoints (PyTorch's <c>layers.N</c> by default).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// An Elman RNN, PyTorch's <c>nn.RNN</c> with tanh: <c>h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class SimpleRnnAttribute : RecurrentAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">The size of the hidden state.</param>
    public SimpleRnnAttribute(int units) : base(units)
    {
    }
}

/// <summary>
/// A long short-term memory layer, PyTorch's <c>nn.LSTM</c>: gates in the order (i, f, g, o),
/// <c>c_t = f ⊙ c_{t−1} + i ⊙ g</c>, <c>h_t = o ⊙ tanh(c_t)</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class LstmAttribute : RecurrentAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">The size of the hidden and cell states.</param>
    public LstmAttribute(int units) : base(units)
    {
    }
}

/// <summary>
/// A gated recurrent unit, PyTorch's <c>nn.GRU</c>: gates (r, z, n) with
/// <c>n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))</c> and <c>h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class GruAttribute : RecurrentAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">The size of the hidden state.</param>
    public GruAttribute(int units) : base(units)
    {
    }
}
