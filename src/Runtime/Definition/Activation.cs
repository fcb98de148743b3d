namespace Compiled;

/// <summary>The activation applied to a layer's output.</summary>
/// <remarks>This file is linked into the generator, so the generator and the runtime share one list.</remarks>
public enum Activation
{
    /// <summary>No activation: the layer is linear.</summary>
    None = 0,
    /// <summary><c>max(0, x)</c>.</summary>
    Relu = 1,
    /// <summary><c>x</c> for x &gt; 0, else <c>0.01·x</c> (PyTorch's default slope).</summary>
    LeakyRelu = 2,
    /// <summary><c>1 / (1 + e^-x)</c>.</summary>
    Sigmoid = 3,
    /// <summary><c>tanh(x)</c>.</summary>
    Tanh = 4,
    /// <summary>Softmax over the layer's outputs; fused with cross-entropy when it ends the model.</summary>
    Softmax = 5,
    /// <summary>GELU, tanh approximation (PyTorch's <c>approximate='tanh'</c>).</summary>
    Gelu = 6,
}
