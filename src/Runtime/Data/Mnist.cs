using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace Compiled;

/// <summary>
/// Reads MNIST and Fashion-MNIST, which share the IDX format: a big-endian header (magic, then one 32-bit
/// size per dimension) followed by unsigned bytes. Files may be raw or gzip-compressed (<c>.gz</c>).
/// Everything is validated; a bad file throws <see cref="InvalidDataException"/> naming the file and the problem.
/// </summary>
/// <example>
/// <code>
/// var (train, test) = Mnist.Load("data/mnist");   // 60,000 and 10,000 samples of 784 floats in [0, 1]
/// </code>
/// </example>
public static class Mnist
{
    /// <summary>The magic number of an IDX image file: unsigned bytes (0x08), 3 dimensions.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>The magic number of an IDX label file: unsigned bytes (0x08), 1 dimension.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>The number of classes; every label is in [0, 9].</summary>
    public const int Classes = 10;

    /// <summary>The standard file names (each may also carry a <c>.gz</c> extension).</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte", TrainLabelsFile = "train-labels-idx1-ubyte",
        TestImagesFile = "t10k-images-idx3-ubyte", TestLabelsFile = "t10k-labels-idx1-ubyte";

    private const int ImagesHeaderSize = 16, LabelsHeaderSize = 8;

    /// <summary>
    /// Loads the training and test sets from <paramref name="directory"/>, which holds the four standard files
    /// (<see cref="TrainImagesFile"/> and so on), each raw or <c>.gz</c>; where both exist the raw file is used.
    /// Features are rows·cols floats in [0, 1] (784 for MNIST); targets are the labels as floats (TargetSize 1).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Any of the four files is missing (the message lists every missing one).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the message names it and says what is wrong).</exception>
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        DataFile.RequireDirectory(directory, "MNIST");
        string[] names = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];
        var found = new string?[names.Length];
        var missing = new List<string>();
        for (int i = 0; i < names.Length; i++)
        {
            found[i] = DataFile.FindRawOrGz(directory, names[i]);
            if (found[i] is null) missing.Add($"{names[i]}[.gz]");
        }
        if (missing.Count > 0)
        {
            string full = Path.GetFullPath(directory);
            throw new FileNotFoundException(
                $"The MNIST directory '{full}' lacks {string.Join(", ", missing)} (looked for each name raw and with .gz). " +
                $"It needs {string.Join(", ", names)}, each raw or gzip-compressed.",
                Path.Combine(full, missing[0].Replace("[.gz]", "", StringComparison.Ordinal)));
        }
        return (Read(found[0]!, found[1]!), Read(found[2]!, found[3]!));
    }

    /// <summary>Reads an images file and a labels file into one <see cref="Dataset"/> (features rows·cols, targets 1).</summary>
    /// <exception cref="InvalidDataException">Either file is malformed, or their counts differ.</exception>
    public static Dataset Read(string imagesPath, string labelsPath)
    {
        MnistImages images = ReadImages(imagesPath);
        byte[] labels = ReadLabels(labelsPath);
        if (labels.Length != images.Count)
            throw new InvalidDataException(
                $"{imagesPath} holds {images.Count} images, but {labelsPath} holds {labels.Length} labels; they must be the same count.");
        var targets = new float[labels.Length];
        for (int i = 0; i < labels.Length; i++) targets[i] = labels[i];
        return new Dataset(images.Pixels, targets, images.Rows * images.Columns, 1, owned: true);
    }

    /// <summary>Reads an IDX image file (magic <c>0x00000803</c>), raw or <c>.gz</c>, scaling pixels to [0, 1].</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed.</exception>
    public static MnistImages ReadImages(string path)
    {
        (Array pixels, int count, int rows, int cols) = ReadIdx(path, images: true);
        return new MnistImages((float[])pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX label file (magic <c>0x00000801</c>), raw or <c>.gz</c>; every label must be in [0, 9].</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed or a label is above 9.</exception>
    public static byte[] ReadLabels(string path)
    {
        var labels = (byte[])ReadIdx(path, images: false).Data;
        int bad = labels.AsSpan().IndexOfAnyInRange((byte)Classes, byte.MaxValue);
        if (bad >= 0)
            throw new InvalidDataException(
                $"{path} has label {labels[bad]} at index {bad}; MNIST labels are 0 to {Classes - 1}.");
        return labels;
    }

    /// <summary>Reads and checks an IDX file; the payload comes back as floats in [0, 1] for images, as bytes for labels.</summary>
    private static (Array Data, int Count, int Rows, int Cols) ReadIdx(string path, bool images)
    {
        string kind = images ? "images" : "labels";
        int headerSize = images ? ImagesHeaderSize : LabelsHeaderSize;
        string payload = images ? "pixel data" : "label data";

        using FileStream file = DataFile.OpenRead(path, $"MNIST {kind}");
        long fileLength = file.Length;
        if (fileLength == 0) throw new InvalidDataException($"{path} is empty (0 bytes); an IDX {kind} file starts with a {headerSize}-byte header.");
        Span<byte> start = stackalloc byte[4];
        int startLength = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        start = start[..startLength];
        bool gzipName = DataFile.HasGzipExtension(path);
        bool gzipBytes = DataFile.HasGzipSignature(start);
        if (gzipName && !gzipBytes)
        {
            string what = startLength == 4 && IsIdxMagic(BinaryPrimitives.ReadInt32BigEndian(start))
                ? "an uncompressed IDX file: remove the .gz extension"
                : "not gzip's signature 1F 8B";
            throw new InvalidDataException(
                $"{path} is named .gz but is not gzip-compressed: it starts with {DataFile.Hex(start)}, {what}.");
        }
        file.Position = 0;

        using Stream source = gzipName ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
        string after = gzipName ? " (after decompression)" : "";
        Span<byte> header = stackalloc byte[headerSize];
        int headerRead = DataFile.ReadFully(source, header, path);
        if (headerRead < 4)
            throw new InvalidDataException(
                $"{path} holds only {headerRead} bytes{after}, too few for an IDX header (magic 0x{(images ? ImagesMagic : LabelsMagic):X8} then sizes).");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        int expectedMagic = images ? ImagesMagic : LabelsMagic;
        if (magic != expectedMagic) throw WrongMagic(path, magic, images, gzipBytes && !gzipName);
        if (headerRead < headerSize)
            throw new InvalidDataException(
                $"{path} ends after {headerRead} bytes{after}, inside its {headerSize}-byte IDX {kind} header.");

        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        uint rows = images ? BinaryPrimitives.ReadUInt32BigEndian(header[8..]) : 1;
        uint cols = images ? BinaryPrimitives.ReadUInt32BigEndian(header[12..]) : 1;
        string dims = images ? $"{count} images of {rows}x{cols}" : $"{count} labels";
        if (count == 0 || rows == 0 || cols == 0)
            throw new InvalidDataException($"{path} has a header declaring {dims}; every size must be at least 1.");
        ulong expected = (ulong)count * rows * cols; // at most 2^96 in theory: check each step
        if ((ulong)rows * cols > (ulong)Array.MaxLength || expected / count != (ulong)rows * cols || expected > (ulong)Array.MaxLength)
            throw new InvalidDataException(
                $"{path} has a header declaring {dims}, which is absurd: more than {Array.MaxLength} bytes of {payload}.");

        if (!gzipName)
        {
            long actual = fileLength - headerSize;
            if ((ulong)actual < expected)
                throw Truncated(path, expected, actual, headerSize, payload, dims, after);
            if ((ulong)actual > expected)
                throw Trailing(path, expected, (ulong)actual - expected, payload, dims);
        }
        else if (expected > (ulong)fileLength * 1032 + 1024)
        {
            // Deflate cannot expand data by more than about 1032:1, so this file cannot hold what its header promises.
            throw new InvalidDataException(
                $"{path} has a header declaring {dims} ({expected} bytes of {payload}), but a gzip file of {fileLength} bytes cannot hold that much; it is truncated or its header is wrong.");
        }

        // A raw file's length was checked against the header, so its payload is allocated at once. A gzip file's header
        // could promise up to ~1000x the file's size, so its arrays start at a size the file can plausibly hold and
        // grow only as decompressed bytes actually arrive (real MNIST files fit the first guess: one allocation).
        int capacity = gzipName ? (int)Math.Min(expected, (ulong)fileLength * 8 + (1 << 16)) : (int)expected;
        Array data;
        long read = 0;
        byte[] chunk = ArrayPool<byte>.Shared.Rent(1 << 18);
        try
        {
            // Decompress and convert in cache-sized chunks: no byte copy of the whole image payload is ever held.
            float[] pixels = images ? GC.AllocateUninitializedArray<float>(capacity) : [];
            byte[] labels = images ? [] : GC.AllocateUninitializedArray<byte>(capacity);
            while ((ulong)read < expected)
            {
                int want = (int)Math.Min((ulong)chunk.Length, expected - (ulong)read);
                int got = DataFile.ReadFully(source, chunk.AsSpan(0, want), path);
                if (images)
                {
                    if (read + got > pixels.Length) pixels = Grow(pixels, read, read + got, expected);
                    PixelConversion.ToUnitRange(chunk.AsSpan(0, got), pixels.AsSpan((int)read, got));
                }
                else
                {
                    if (read + got > labels.Length) labels = Grow(labels, read, read + got, expected);
                    chunk.AsSpan(0, got).CopyTo(labels.AsSpan((int)read));
                }
                read += got;
                if (got < want) break;
            }
            data = images ? pixels : labels;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if ((ulong)read < expected) throw Truncated(path, expected, read, headerSize, payload, dims, after);
        long extra = DataFile.CountRemaining(source, path);
        if (extra > 0) throw Trailing(path, expected, (ulong)extra, payload, dims);
        return (data, (int)count, (int)rows, (int)cols);
    }

    /// <summary>A larger array holding the first <paramref name="used"/> items: at least <paramref name="needed"/>, twice the
    /// old size where that is more, never more than <paramref name="limit"/>.</summary>
    private static T[] Grow<T>(T[] array, long used, long needed, ulong limit)
    {
        long size = (long)Math.Min(limit, (ulong)Math.Max(needed, Math.Min((long)array.Length * 2, Array.MaxLength)));
        T[] larger = GC.AllocateUninitializedArray<T>((int)size);
        array.AsSpan(0, (int)used).CopyTo(larger);
        return larger;
    }

    private static bool IsIdxMagic(int magic) => (magic & unchecked((int)0xFFFF0000)) == 0 && ((magic >> 8) & 0xFF) is >= 0x08 and <= 0x0E;

    private static InvalidDataException WrongMagic(string path, int found, bool images, bool gzipWithoutExtension)
    {
        int expected = images ? ImagesMagic : LabelsMagic;
        int other = images ? LabelsMagic : ImagesMagic;
        string hint;
        if (gzipWithoutExtension)
            hint = " The file starts with gzip's signature 1F 8B: it is compressed, so give it a .gz extension (or decompress it).";
        else if (found == other)
            hint = $" That is the magic of an IDX {(images ? "labels" : "images")} file: were the images and labels paths swapped?";
        else if (BinaryPrimitives.ReverseEndianness(found) is var swapped && (swapped == expected || swapped == other))
            hint = " The bytes are in little-endian order, but IDX headers are big-endian.";
        else if (IsIdxMagic(found))
            hint = $" That is an IDX file of type 0x{(found >> 8) & 0xFF:X2} with {found & 0xFF} dimensions, not unsigned bytes with {(images ? 3 : 1)}.";
        else
            hint = " This is not an IDX file.";
        return new InvalidDataException(
            $"{path} is not an MNIST {(images ? "images" : "labels")} file: expected magic 0x{expected:X8}, found 0x{found:X8}.{hint}");
    }

    private static InvalidDataException Truncated(string path, ulong expected, long found, int headerSize, string payload, string dims, string after) =>
        new($"{path} is truncated: its header declares {dims}, so it expected {expected} bytes of {payload} after the {headerSize}-byte header, found {found}{after}.");

    private static InvalidDataException Trailing(string path, ulong expected, ulong extra, string payload, string dims) =>
        new($"{path} has {extra} bytes of trailing garbage after the {expected} bytes of {payload} its header declares ({dims}).");
}

/// <summary>The images of an IDX file: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Columns"/> pixels.</summary>
/// <param name="Pixels">[Count, Rows, Columns] row-major, each pixel <c>byte / 255</c> in [0, 1].</param>
/// <param name="Count">The number of images.</param>
/// <param name="Rows">Pixel rows per image (28 for MNIST).</param>
/// <param name="Columns">Pixel columns per image (28 for MNIST).</param>
public sealed record MnistImages(float[] Pixels, int Count, int Rows, int Columns);
