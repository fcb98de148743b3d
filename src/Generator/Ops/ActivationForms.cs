namespace Compiled.Generator.Ops;

/// <summary>How each activation appears in generated code, and how its layer is initialised.</summary>
internal static class ActivationForms
{
    /// <summary>The activation struct's name in Compiled.CompilerServices (CPU) and Compiled.Gpu.CompilerServices (GPU);
    /// Softmax is row-wise and has kernels of its own, None is Identity.</summary>
    public static string Struct(Activation activation) => activation switch
    {
        Activation.Relu => "Relu",
        Activation.LeakyRelu => "LeakyRelu",
        Activation.Sigmoid => "Sigmoid",
        Activation.Tanh => "Tanh",
        Activation.Gelu => "Gelu",
        _ => "Identity",
    };

    /// <summary>True when the backward pass reads the pre-activation, so the forward pass must keep it.</summary>
    public static bool NeedsPreActivation(Activation activation) => activation is Activation.Gelu or Activation.Softmax;

    /// <summary>He initialisation suits the ReLU family; Glorot suits the rest.</summary>
    public static bool UsesHeInit(Activation activation)
        => activation is Activation.Relu or Activation.LeakyRelu or Activation.Gelu;

    /// <summary>The math of the activation, for comments.</summary>
    public static string Formula(Activation activation, string z) => activation switch
    {
        Activation.None => z,
        Activation.Relu => $"relu({z})",
        Activation.LeakyRelu => $"leaky_relu({z})",
        Activation.Sigmoid => $"sigmoid({z})",
        Activation.Tanh => $"tanh({z})",
        Activation.Gelu => $"gelu({z})",
        Activation.Softmax => $"softmax({z})",
        _ => z,
    };

    /// <summary>
    /// True when a loss absorbs the output activation: softmax into (sparse) categorical cross-entropy and sigmoid
    /// into binary cross-entropy, each one stable op whose gradient at the logits is <c>p − t</c>.
    /// </summary>
    public static bool FusesInto(Loss loss, Activation activation) => (loss, activation) switch
    {
        (Loss.SparseCategoricalCrossEntropy, Activation.Softmax) => true,
        (Loss.CategoricalCrossEntropy, Activation.Softmax) => true,
        (Loss.BinaryCrossEntropy, Activation.Sigmoid) => true,
        _ => false,
    };
}
