namespace Compiled;

/// <summary>
/// Reads the CIFAR-10 binary version (<c>cifar-10-binary.tar.gz</c>, extracted). Each file is a sequence of
/// 3073-byte records: one label byte (0–9), then 3072 pixel bytes — the 1024 red values, then the 1024 green,
/// then the 1024 blue, each plane a row-major 32×32 image.
/// </summary>
/// <remarks>
/// Features are laid out <b>HWC</b>, [32, 32, 3] per image (the pixel at row y, column x, channel c is at
/// <c>(y·32 + x)·3 + c</c>), as Keras stores CIFAR-10 and as an <c>[Input(32, 32, 3)]</c> model expects; each
/// value is <c>byte / 255</c> in [0, 1]. Targets are the labels as floats (TargetSize 1).
/// The official files hold 10,000 records each, but any whole number of records is accepted.
/// </remarks>
/// <example><code>var (train, test) = Cifar10.Load("data/cifar-10-batches-bin");   // 50,000 and 10,000 samples</code></example>
public static class Cifar10
{
    /// <summary>Image height in pixels.</summary>
    public const int Height = 32;

    /// <summary>Image width in pixels.</summary>
    public const int Width = 32;

    /// <summary>Colour channels (red, green, blue).</summary>
    public const int Channels = 3;

    /// <summary>Floats per sample: 32·32·3.</summary>
    public const int FeatureSize = Height * Width * Channels;

    /// <summary>Bytes per record in a batch file: one label byte and 3072 pixel bytes.</summary>
    public const int RecordSize = 1 + FeatureSize;

    /// <summary>The number of classes.</summary>
    public const int Classes = 10;

    /// <summary>The training batch file names, in order.</summary>
    public static ReadOnlySpan<string> TrainFiles => s_trainFiles;

    /// <summary>The test batch file name.</summary>
    public const string TestFile = "test_batch.bin";

    /// <summary>The class names, indexed by label (as in the data set's <c>batches.meta.txt</c>).</summary>
    public static ReadOnlySpan<string> ClassNames => s_classNames;

    private static readonly string[] s_trainFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    private static readonly string[] s_classNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    private const int Plane = Height * Width;

    /// <summary>
    /// Loads the five training batches (concatenated in order) and the test batch from <paramref name="directory"/>,
    /// or from its <c>cifar-10-batches-bin</c> subdirectory, which is what extracting the archive creates.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">Any batch file is missing (the message lists every missing one).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the message names it and says what is wrong).</exception>
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        DataFile.RequireDirectory(directory, "CIFAR-10");
        string nested = Path.Combine(directory, "cifar-10-batches-bin");
        if (!File.Exists(Path.Combine(directory, s_trainFiles[0])) && Directory.Exists(nested)) directory = nested;

        string[] all = [.. s_trainFiles, TestFile];
        string[] missing = all.Where(name => !File.Exists(Path.Combine(directory, name))).ToArray();
        if (missing.Length > 0)
        {
            string full = Path.GetFullPath(directory);
            throw new FileNotFoundException(
                $"The CIFAR-10 directory '{full}' lacks {string.Join(", ", missing)}. It needs {string.Join(", ", all)} " +
                "(the binary version, cifar-10-binary.tar.gz, extracted).", Path.Combine(full, missing[0]));
        }
        return (Read(s_trainFiles.Select(name => Path.Combine(directory, name)).ToArray()), Read(Path.Combine(directory, TestFile)));
    }

    /// <summary>Reads one or more batch files into one <see cref="Dataset"/>, records in file order.</summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="IOException">A path is a FIFO, socket or device rather than a regular file.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static Dataset Read(params ReadOnlySpan<string> paths)
    {
        if (paths.IsEmpty) throw new ArgumentException("Give at least one CIFAR-10 batch file.", nameof(paths));
        var counts = new int[paths.Length];
        long total = 0;
        for (int f = 0; f < paths.Length; f++)
        {
            string path = paths[f];
            ArgumentException.ThrowIfNullOrEmpty(path, nameof(paths));
            if (!File.Exists(path))
                throw new FileNotFoundException($"The CIFAR-10 batch file '{Path.GetFullPath(path)}' does not exist.", path);
            DataFile.RequireRegularFile(path, "CIFAR-10 batch");
            counts[f] = CheckLength(path, new FileInfo(path).Length);
            total += counts[f];
        }
        if (total * FeatureSize > Array.MaxLength)
            throw new InvalidDataException($"These {paths.Length} CIFAR-10 files hold {total} records, more than one array can hold.");

        float[] features = GC.AllocateUninitializedArray<float>((int)(total * FeatureSize));
        float[] targets = new float[total];
        int sample = 0;
        for (int f = 0; f < paths.Length; f++)
        {
            byte[] bytes = File.ReadAllBytes(paths[f]);
            int records = CheckLength(paths[f], bytes.Length); // the file may have changed since we measured it
            if (records != counts[f])
                throw new InvalidDataException($"{paths[f]} changed while it was being read.");
            Decode(paths[f], bytes, features.AsSpan(sample * FeatureSize, records * FeatureSize), targets.AsSpan(sample, records));
            sample += records;
        }
        return new Dataset(features, targets, FeatureSize, 1, owned: true);
    }

    /// <summary>Checks a batch file's length and returns its record count.</summary>
    private static int CheckLength(string path, long length)
    {
        if (length == 0) throw new InvalidDataException($"{path} is empty; a CIFAR-10 batch holds 3073-byte records.");
        if (length % RecordSize == 0) return checked((int)(length / RecordSize));

        string hint = "";
        if (length >= 2)
        {
            Span<byte> start = stackalloc byte[2];
            using (var file = File.OpenRead(path)) file.ReadExactly(start);
            if (DataFile.HasGzipSignature(start)) hint = " It is gzip-compressed: extract cifar-10-binary.tar.gz first.";
        }
        if (hint.Length == 0 && length % (RecordSize + 1) == 0)
            hint = " Its length is a whole number of 3074-byte records: is it CIFAR-100 (coarse and fine label bytes)?";
        throw new InvalidDataException(
            $"{path} is {length} bytes long, which is not a whole number of {RecordSize}-byte CIFAR-10 records " +
            $"(1 label byte + {FeatureSize} pixel bytes): {length / RecordSize} records and {length % RecordSize} bytes left over.{hint}");
    }

    /// <summary>Splits records into labels and HWC pixels scaled to [0, 1].</summary>
    private static void Decode(string path, ReadOnlySpan<byte> bytes, Span<float> features, Span<float> targets)
    {
        float[] unit = PixelConversion.UnitTable;
        for (int r = 0; r < targets.Length; r++)
        {
            ReadOnlySpan<byte> record = bytes.Slice(r * RecordSize, RecordSize);
            byte label = record[0];
            if (label >= Classes)
                throw new InvalidDataException(
                    $"{path} has label {label} in record {r} (byte offset {(long)r * RecordSize}); CIFAR-10 labels are 0 to {Classes - 1}.");
            targets[r] = label;
            ReadOnlySpan<byte> red = record.Slice(1, Plane), green = record.Slice(1 + Plane, Plane), blue = record.Slice(1 + 2 * Plane, Plane);
            Span<float> hwc = features.Slice(r * FeatureSize, FeatureSize);
            for (int p = 0; p < Plane; p++)
            {
                hwc[3 * p] = unit[red[p]];
                hwc[3 * p + 1] = unit[green[p]];
                hwc[3 * p + 2] = unit[blue[p]];
            }
        }
    }
}
