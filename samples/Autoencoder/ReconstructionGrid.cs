using Compiled;
using SkiaSharp;

namespace Compiled.Samples.Autoencoder;

/// <summary>
/// Draws originals above their reconstructions: <c>rows</c> pairs of image rows, each of <c>columns</c> square images,
/// white on black, every pixel scaled up by <c>scale</c>, with a one-<c>scale</c> gap between images.
/// </summary>
public static class ReconstructionGrid
{
    /// <summary>The pixel the grid draws for a grey level in [0, 1] (clamped, rounded).</summary>
    public static byte Grey(float value) => (byte)Math.Round(Math.Clamp(value, 0f, 1f) * 255f);

    /// <summary>
    /// Runs <paramref name="model"/> on the first <paramref name="columns"/> × <paramref name="rows"/> samples of
    /// <paramref name="images"/> (square grey images in [0, 1]) and writes the grid as a PNG to <paramref name="path"/>.
    /// </summary>
    /// <returns>The width and height of the picture, in pixels.</returns>
    public static (int Width, int Height) WritePng(IModel model, Dataset images, string path, int columns = 10, int rows = 2, int scale = 2)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        int side = (int)Math.Sqrt(images.FeatureSize);
        if (side * side != images.FeatureSize || model.OutputSize != images.FeatureSize)
            throw new ArgumentException($"The images have {images.FeatureSize} pixels and the model {model.OutputSize} outputs: both must be the same square number.", nameof(images));
        int count = columns * rows;
        if (images.Count < count)
            throw new ArgumentException($"A grid of {columns} x {rows} needs {count} images, but the data set has {images.Count}.", nameof(images));

        Dataset shown = images.Take(count);
        float[] reconstructions = model.Predict(shown);
        int cell = (side + 1) * scale;
        int width = columns * cell + scale, height = 2 * rows * cell + scale;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        bitmap.Erase(new SKColor(64, 64, 64));
        for (int k = 0; k < count; k++)
        {
            int x0 = (k % columns) * cell + scale, y0 = 2 * (k / columns) * cell + scale;
            Draw(bitmap, shown.FeaturesOf(k), side, scale, x0, y0);
            Draw(bitmap, reconstructions.AsSpan(k * side * side, side * side), side, scale, x0, y0 + cell);
        }
        using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the picture as PNG.");
        using (FileStream file = File.Create(path)) png.SaveTo(file);
        return (width, height);
    }

    private static void Draw(SKBitmap bitmap, ReadOnlySpan<float> image, int side, int scale, int x0, int y0)
    {
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                byte g = Grey(image[y * side + x]);
                var color = new SKColor(g, g, g);
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++) bitmap.SetPixel(x0 + x * scale + dx, y0 + y * scale + dy, color);
            }
    }
}
