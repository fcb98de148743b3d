using System.Runtime.InteropServices;

namespace Compiled.CompilerServices;

/// <summary>
/// The geometry of one 2-D convolution, every size fixed at build time: the generated code builds it from literals
/// (<c>new Conv2DShape(28, 28, 1, 3, 3, 32, 1, 1, 0, 0, 26, 26)</c>) and passes it to the CPU and GPU kernels.
/// </summary>
/// <remarks>
/// Layouts: activations are NHWC (<c>[batch, height, width, channels]</c>, channels innermost, as Keras gives images);
/// the weight is PyTorch's <c>[filters, channels, kernelHeight, kernelWidth]</c>. Output pixel (oy, ox) reads input rows
/// <c>oy·StrideY − PadTop + i</c> and columns <c>ox·StrideX − PadLeft + j</c>; taps outside the image read zero.
/// Blittable, so an ILGPU kernel can take it as a parameter.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public readonly struct Conv2DShape : IEquatable<Conv2DShape>
{
    /// <summary>Makes the geometry (unchecked; see <see cref="Validate"/>).</summary>
    public Conv2DShape(int inHeight, int inWidth, int inChannels, int kernelHeight, int kernelWidth, int filters,
        int strideY, int strideX, int padTop, int padLeft, int outHeight, int outWidth)
    {
        InHeight = inHeight; InWidth = inWidth; InChannels = inChannels;
        KernelHeight = kernelHeight; KernelWidth = kernelWidth; Filters = filters;
        StrideY = strideY; StrideX = strideX; PadTop = padTop; PadLeft = padLeft;
        OutHeight = outHeight; OutWidth = outWidth;
    }

    /// <summary>Input rows.</summary>
    public int InHeight { get; }
    /// <summary>Input columns.</summary>
    public int InWidth { get; }
    /// <summary>Input channels.</summary>
    public int InChannels { get; }
    /// <summary>Kernel rows.</summary>
    public int KernelHeight { get; }
    /// <summary>Kernel columns.</summary>
    public int KernelWidth { get; }
    /// <summary>Output channels.</summary>
    public int Filters { get; }
    /// <summary>Vertical stride.</summary>
    public int StrideY { get; }
    /// <summary>Horizontal stride.</summary>
    public int StrideX { get; }
    /// <summary>Zero rows added above the image (Keras "same": half the total, rounded down).</summary>
    public int PadTop { get; }
    /// <summary>Zero columns added left of the image.</summary>
    public int PadLeft { get; }
    /// <summary>Output rows.</summary>
    public int OutHeight { get; }
    /// <summary>Output columns.</summary>
    public int OutWidth { get; }

    /// <summary>Floats per input sample: InHeight·InWidth·InChannels.</summary>
    public int InSize => InHeight * InWidth * InChannels;
    /// <summary>Floats per output sample: OutHeight·OutWidth·Filters.</summary>
    public int OutSize => OutHeight * OutWidth * Filters;
    /// <summary>Floats in the weight: Filters·InChannels·KernelHeight·KernelWidth.</summary>
    public int WeightSize => Filters * InChannels * KernelHeight * KernelWidth;

    /// <summary>Multiply-adds per sample of the forward pass (each of the backward products costs the same).</summary>
    public long MultiplyAdds => (long)OutHeight * OutWidth * Filters * InChannels * KernelHeight * KernelWidth;

    /// <summary>The output size along one axis: Keras' "valid" (<paramref name="same"/> false) or "same" padding.</summary>
    public static int OutputSize(int input, int kernel, int stride, bool same)
        => same ? (input + stride - 1) / stride : input < kernel ? 0 : (input - kernel) / stride + 1;

    /// <summary>The zero rows (or columns) added before the image for Keras' "same" padding (0 for "valid").</summary>
    public static int PadBefore(int input, int kernel, int stride, bool same)
        => same ? Math.Max((OutputSize(input, kernel, stride, true) - 1) * stride + kernel - input, 0) / 2 : 0;

    /// <summary>
    /// Throws unless every size is positive and the last window starts inside the input. The constructor does not check
    /// (a GPU kernel builds the shape from literals, and device code cannot throw); the generator only writes valid ones.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The shape is not valid.</exception>
    public void Validate()
    {
        if (InHeight <= 0 || InWidth <= 0 || InChannels <= 0 || KernelHeight <= 0 || KernelWidth <= 0 || Filters <= 0
            || StrideY <= 0 || StrideX <= 0 || OutHeight <= 0 || OutWidth <= 0 || PadTop < 0 || PadLeft < 0)
            throw new ArgumentOutOfRangeException(null, $"Every size of {this} must be positive (paddings ≥ 0).");
        if ((OutHeight - 1) * StrideY - PadTop >= InHeight || (OutWidth - 1) * StrideX - PadLeft >= InWidth)
            throw new ArgumentOutOfRangeException(null, $"The last window of {this} starts past the input.");
    }

    /// <inheritdoc/>
    public bool Equals(Conv2DShape other) =>
        InHeight == other.InHeight && InWidth == other.InWidth && InChannels == other.InChannels
        && KernelHeight == other.KernelHeight && KernelWidth == other.KernelWidth && Filters == other.Filters
        && StrideY == other.StrideY && StrideX == other.StrideX && PadTop == other.PadTop && PadLeft == other.PadLeft
        && OutHeight == other.OutHeight && OutWidth == other.OutWidth;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Conv2DShape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HashCode.Combine(InHeight, InWidth, InChannels, KernelHeight),
        HashCode.Combine(KernelWidth, Filters, StrideY, StrideX), HashCode.Combine(PadTop, PadLeft, OutHeight, OutWidth));

    /// <summary><c>28x28x1 * 3x3x32 /1 pad 0,0 → 26x26x32</c>.</summary>
    public override string ToString() =>
        $"{InHeight}x{InWidth}x{InChannels} * {KernelHeight}x{KernelWidth}x{Filters} /{StrideY},{StrideX} pad {PadTop},{PadLeft} → {OutHeight}x{OutWidth}x{Filters}";
}

/// <summary>
/// The geometry of one 2-D pooling window over NHWC activations: window <c>PoolHeight × PoolWidth</c>, strides, the
/// zero-based padding before the image (Keras "same"), and the output size. Padded taps are skipped (max pooling) or not
/// counted (average pooling, as Keras and PyTorch's <c>count_include_pad=False</c>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct Pool2DShape : IEquatable<Pool2DShape>
{
    /// <summary>Makes the geometry (unchecked; see <see cref="Validate"/>).</summary>
    public Pool2DShape(int inHeight, int inWidth, int channels, int poolHeight, int poolWidth,
        int strideY, int strideX, int padTop, int padLeft, int outHeight, int outWidth)
    {
        InHeight = inHeight; InWidth = inWidth; Channels = channels;
        PoolHeight = poolHeight; PoolWidth = poolWidth; StrideY = strideY; StrideX = strideX;
        PadTop = padTop; PadLeft = padLeft; OutHeight = outHeight; OutWidth = outWidth;
    }

    /// <summary>Throws unless every size is positive (the constructor does not check; see <see cref="Conv2DShape.Validate"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public void Validate()
    {
        if (InHeight <= 0 || InWidth <= 0 || Channels <= 0 || PoolHeight <= 0 || PoolWidth <= 0 || StrideY <= 0 || StrideX <= 0
            || OutHeight <= 0 || OutWidth <= 0 || PadTop < 0 || PadLeft < 0)
            throw new ArgumentOutOfRangeException(null, $"Every size of {this} must be positive (paddings ≥ 0).");
    }

    /// <summary>Input rows.</summary>
    public int InHeight { get; }
    /// <summary>Input columns.</summary>
    public int InWidth { get; }
    /// <summary>Channels (the same in and out).</summary>
    public int Channels { get; }
    /// <summary>Window rows.</summary>
    public int PoolHeight { get; }
    /// <summary>Window columns.</summary>
    public int PoolWidth { get; }
    /// <summary>Vertical stride.</summary>
    public int StrideY { get; }
    /// <summary>Horizontal stride.</summary>
    public int StrideX { get; }
    /// <summary>Rows of padding above the image.</summary>
    public int PadTop { get; }
    /// <summary>Columns of padding left of the image.</summary>
    public int PadLeft { get; }
    /// <summary>Output rows.</summary>
    public int OutHeight { get; }
    /// <summary>Output columns.</summary>
    public int OutWidth { get; }

    /// <summary>Floats per input sample.</summary>
    public int InSize => InHeight * InWidth * Channels;
    /// <summary>Floats per output sample.</summary>
    public int OutSize => OutHeight * OutWidth * Channels;

    /// <inheritdoc/>
    public bool Equals(Pool2DShape other) =>
        InHeight == other.InHeight && InWidth == other.InWidth && Channels == other.Channels && PoolHeight == other.PoolHeight
        && PoolWidth == other.PoolWidth && StrideY == other.StrideY && StrideX == other.StrideX && PadTop == other.PadTop
        && PadLeft == other.PadLeft && OutHeight == other.OutHeight && OutWidth == other.OutWidth;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Pool2DShape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(HashCode.Combine(InHeight, InWidth, Channels, PoolHeight),
        HashCode.Combine(PoolWidth, StrideY, StrideX, PadTop), HashCode.Combine(PadLeft, OutHeight, OutWidth));

    /// <summary><c>26x26x32 pool 2x2 /2,2 pad 0,0 → 13x13x32</c>.</summary>
    public override string ToString() =>
        $"{InHeight}x{InWidth}x{Channels} pool {PoolHeight}x{PoolWidth} /{StrideY},{StrideX} pad {PadTop},{PadLeft} → {OutHeight}x{OutWidth}x{Channels}";
}
