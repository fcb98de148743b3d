namespace Compiled;

/// <summary>How a convolution or pooling window treats the image's border, as Keras defines it.</summary>
/// <remarks>This file is linked into the generator, so the generator and the runtime share one list.</remarks>
public enum Padding
{
    /// <summary>No padding: the window stays inside the image; the output is ⌊(n − k) / s⌋ + 1 along each axis.</summary>
    Valid = 0,
    /// <summary>Zero padding so the output is ⌈n / s⌉ along each axis; the padding is split with the extra row or column
    /// after the image (Keras' "same").</summary>
    Same = 1,
}
