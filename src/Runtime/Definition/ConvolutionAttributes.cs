using System.Diagnostics;

namespace Compiled;

/// <summary>
/// A 2-D convolution over an image input <c>(H, W, C)</c>: <c>y = f(conv(x, W) + b)</c> with <c>filters</c> output
/// channels. The weight is stored as PyTorch's <c>[filters, channels, kh, kw]</c>, activations channels-last as Keras.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class Conv2DAttribute : Attribute
{
    /// <summary>A square kernel: <c>[Conv2D(32, 3, Activation.Relu)]</c>.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">The kernel's height and width.</param>
    /// <param name="activation">The activation fused into the layer.</param>
    public Conv2DAttribute(int filters, int kernelSize, Activation activation = Activation.None)
        : this(filters, kernelSize, kernelSize, activation)
    {
    }

    /// <summary>A <c>kernelHeight × kernelWidth</c> kernel: <c>[Conv2D(16, 1, 5)]</c>.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelHeight">The kernel's height.</param>
    /// <param name="kernelWidth">The kernel's width.</param>
    /// <param name="activation">The activation fused into the layer.</param>
    public Conv2DAttribute(int filters, int kernelHeight, int kernelWidth, Activation activation = Activation.None)
    {
        Filters = filters;
        KernelHeight = kernelHeight;
        KernelWidth = kernelWidth;
        Activation = activation;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>The kernel's height.</summary>
    public int KernelHeight { get; }

    /// <summary>The kernel's width.</summary>
    public int KernelWidth { get; }

    /// <summary>The activation fused into the layer.</summary>
    public Activation Activation { get; }

    /// <summary>The step between windows along both axes (1 by default).</summary>
    public int Stride { get; set; } = 1;

    /// <summary><see cref="Compiled.Padding.Valid"/> (the default) or <see cref="Compiled.Padding.Same"/>.</summary>
    public Padding Padding { get; set; }

    /// <summary>Whether the layer adds a bias (true by default).</summary>
    public bool UseBias { get; set; } = true;

    /// <summary>The tensor-name prefix in checkpoints (PyTorch's <c>layers.N</c> by default).</summary>
    public string? Name { get; set; }
}

/// <summary>Max pooling over <c>pool × pool</c> windows of an image input (Keras' <c>MaxPooling2D</c>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class MaxPool2DAttribute : Attribute
{
    /// <summary>A square window.</summary>
    /// <param name="poolSize">The window's height and width.</param>
    public MaxPool2DAttribute(int poolSize) : this(poolSize, poolSize)
    {
    }

    /// <summary>A <c>poolHeight × poolWidth</c> window.</summary>
    /// <param name="poolHeight">The window's height.</param>
    /// <param name="poolWidth">The window's width.</param>
    public MaxPool2DAttribute(int poolHeight, int poolWidth)
    {
        PoolHeight = poolHeight;
        PoolWidth = poolWidth;
    }

    /// <summary>The window's height.</summary>
    public int PoolHeight { get; }

    /// <summary>The window's width.</summary>
    public int PoolWidth { get; }

    /// <summary>The step between windows; 0 (the default) means the window's size, as in Keras.</summary>
    public int Stride { get; set; }

    /// <summary><see cref="Compiled.Padding.Valid"/> (the default) or <see cref="Compiled.Padding.Same"/>.</summary>
    public Padding Padding { get; set; }

    /// <summary>A name for the layer (it has no tensors).</summary>
    public string? Name { get; set; }
}

/// <summary>Average pooling over <c>pool × pool</c> windows (padded taps are not counted, as in Keras).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class AvgPool2DAttribute : Attribute
{
    /// <summary>A square window.</summary>
    /// <param name="poolSize">The window's height and width.</param>
    public AvgPool2DAttribute(int poolSize) : this(poolSize, poolSize)
    {
    }

    /// <summary>A <c>poolHeight × poolWidth</c> window.</summary>
    /// <param name="poolHeight">The window's height.</param>
    /// <param name="poolWidth">The window's width.</param>
    public AvgPool2DAttribute(int poolHeight, int poolWidth)
    {
        PoolHeight = poolHeight;
        PoolWidth = poolWidth;
    }

    /// <summary>The window's height.</summary>
    public int PoolHeight { get; }

    /// <summary>The window's width.</summary>
    public int PoolWidth { get; }

    /// <summary>The step between windows; 0 (the default) means the window's size.</summary>
    public int Stride { get; set; }

    /// <summary><see cref="Compiled.Padding.Valid"/> (the default) or <see cref="Compiled.Padding.Same"/>.</summary>
    public Padding Padding { get; set; }

    /// <summary>A name for the layer (it has no tensors).</summary>
    public string? Name { get; set; }
}

/// <summary>The mean over every pixel of each channel: <c>(H, W, C)</c> to <c>(C)</c> (Keras' <c>GlobalAveragePooling2D</c>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class GlobalAveragePool2DAttribute : Attribute
{
    /// <summary>A name for the layer (it has no tensors).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// Flattens an image <c>(H, W, C)</c> to <c>(C·H·W)</c> in PyTorch's (C, H, W) order, so a Dense after it has the weight
/// layout of the same network in PyTorch (<c>nn.Flatten</c> on NCHW).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("COMPILED_KEEP_ATTRIBUTES")]
public sealed class FlattenAttribute : Attribute
{
    /// <summary>A name for the layer (it has no tensors).</summary>
    public string? Name { get; set; }
}
