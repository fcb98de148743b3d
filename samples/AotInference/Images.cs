using StbImageSharp;

namespace Compiled.Samples;

/// <summary>
/// A PNG as the MNIST network sees a digit: 28x28 gray pixels in [0, 1], a light digit on a dark background.
/// Decoded by StbImageSharp (managed, so the NativeAOT binary needs no native library).
/// </summary>
internal static class Images
{
    /// <summary>The side of an MNIST image.</summary>
    public const int Side = 28;

    /// <summary>Pixels per image.</summary>
    public const int Pixels = Side * Side;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Whether <paramref name="path"/> starts with the PNG signature (any other file is read as IDX).</summary>
    public static bool IsPng(string path)
    {
        Span<byte> head = stackalloc byte[8];
        using FileStream stream = File.OpenRead(path);
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(PngSignature);
    }

    /// <summary>
    /// Reads a PNG of any size and colour type: gray, transparent pixels over white; scaled to 28x28 by averaging the
    /// source area under each target pixel; inverted (<paramref name="inverted"/>) when its border is mostly light,
    /// as for a dark digit drawn on white, because MNIST digits are light on black.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a PNG that decodes.</exception>
    public static float[] ReadPng(string path, out bool inverted)
    {
        ImageResult image;
        try
        {
            using FileStream stream = File.OpenRead(path);
            image = ImageResult.FromStream(stream, ColorComponents.GreyAlpha);
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path} is not a PNG that decodes: {e.Message}", e);
        }
        int width = image.Width, height = image.Height;
        var gray = new float[width * height];
        for (int i = 0; i < gray.Length; i++)
        {
            float value = image.Data[2 * i] / 255f, alpha = image.Data[2 * i + 1] / 255f;
            gray[i] = value * alpha + (1 - alpha); // over white
        }

        var pixels = new float[Pixels];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
                pixels[y * Side + x] = AreaMean(gray, width, height, x, y);

        double border = 0;
        for (int i = 0; i < Side; i++)
            border += pixels[i] + pixels[(Side - 1) * Side + i] + pixels[i * Side] + pixels[i * Side + Side - 1];
        inverted = border / (4 * Side) > 0.5;
        if (inverted)
            for (int i = 0; i < pixels.Length; i++) pixels[i] = 1 - pixels[i];
        return pixels;
    }

    /// <summary>The mean of the source pixels under target pixel (x, y) of the 28x28 grid, weighted by covered area.</summary>
    private static float AreaMean(float[] gray, int width, int height, int x, int y)
    {
        double x0 = (double)x * width / Side, x1 = (double)(x + 1) * width / Side;
        double y0 = (double)y * height / Side, y1 = (double)(y + 1) * height / Side;
        double sum = 0, area = 0;
        for (int sy = (int)y0; sy < Math.Min(height, (int)Math.Ceiling(y1)); sy++)
        {
            double wy = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
            for (int sx = (int)x0; sx < Math.Min(width, (int)Math.Ceiling(x1)); sx++)
            {
                double w = wy * (Math.Min(x1, sx + 1) - Math.Max(x0, sx));
                sum += w * gray[sy * width + sx];
                area += w;
            }
        }
        return (float)(sum / area);
    }
}
