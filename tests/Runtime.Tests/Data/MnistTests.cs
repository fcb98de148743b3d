using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Xunit;

namespace Compiled.Runtime.Tests.Data;

public sealed class MnistTests
{
    // Facts about the official release, computed independently (Python's gzip module over the same files).
    private static readonly int[] TrainClassCounts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
    private static readonly int[] TestClassCounts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
    private const string TrainLabelsSha256 = "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13";
    private const string TestLabelsSha256 = "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5";
    private const long TrainPixelByteSum = 1567298545, TestPixelByteSum = 264923200;

    [Fact]
    public void Load_reads_the_real_files()
    {
        var (train, test) = Mnist.Load(TestData.MnistDirectory);

        Assert.Equal(60_000, train.Count);
        Assert.Equal(10_000, test.Count);
        Assert.Equal(784, train.FeatureSize);
        Assert.Equal(1, train.TargetSize);
        Assert.Equal(new[] { 5f, 0f, 4f, 1f, 9f }, train.Targets[..5].ToArray());
        Assert.Equal(new[] { 7f, 2f, 1f, 0f, 4f }, test.Targets[..5].ToArray());
        Assert.Equal(TrainLabelsSha256, LabelSha256(train));
        Assert.Equal(TestLabelsSha256, LabelSha256(test));
        Assert.Equal(TrainClassCounts, ClassCounts(train));
        Assert.Equal(TestClassCounts, ClassCounts(test));
        Assert.Equal(TrainPixelByteSum, PixelByteSum(train));
        Assert.Equal(TestPixelByteSum, PixelByteSum(test));

        // Row 5 of the first training image (a 5) begins 3, 18, 18, 18, 126, 136, 175 at column 12.
        ReadOnlySpan<float> first = train.FeaturesOf(0);
        Assert.Equal(new[] { 3 / 255f, 18 / 255f, 18 / 255f, 18 / 255f, 126 / 255f, 136 / 255f, 175 / 255f }, first.Slice(5 * 28 + 12, 7).ToArray());
        Assert.Equal(0f, System.Numerics.Tensors.TensorPrimitives.Min(train.Features));
        Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.Max(train.Features));
    }

    [Fact]
    public void Raw_and_gz_files_give_identical_data()
    {
        using var dir = new TempDirectory();
        string gzImages = Path.Combine(TestData.MnistDirectory, "t10k-images-idx3-ubyte.gz");
        string gzLabels = Path.Combine(TestData.MnistDirectory, "t10k-labels-idx1-ubyte.gz");
        File.WriteAllBytes(dir.File("images"), Gunzip(File.ReadAllBytes(gzImages)));
        File.WriteAllBytes(dir.File("labels"), Gunzip(File.ReadAllBytes(gzLabels)));

        Dataset fromGz = Mnist.Read(gzImages, gzLabels);
        Dataset fromRaw = Mnist.Read(dir.File("images"), dir.File("labels"));

        Assert.True(fromGz.Features.SequenceEqual(fromRaw.Features));
        Assert.True(fromGz.Targets.SequenceEqual(fromRaw.Targets));
        Assert.Equal(TestPixelByteSum, PixelByteSum(fromRaw));
    }

    [Fact]
    public void Load_prefers_the_raw_file_and_accepts_a_mix_of_raw_and_gz()
    {
        using var dir = new TempDirectory();
        WriteImages(dir.File("train-images-idx3-ubyte.gz"), gz: true, count: 3, rows: 2, cols: 2, Pixels(12, seed: 1));
        WriteLabels(dir.File("train-labels-idx1-ubyte"), gz: false, [1, 2, 3]);
        WriteImages(dir.File("t10k-images-idx3-ubyte"), gz: false, count: 2, rows: 2, cols: 2, Pixels(8, seed: 2));
        WriteLabels(dir.File("t10k-labels-idx1-ubyte"), gz: false, [4, 5]);
        // Both forms of the test labels: the raw one (4, 5) must win over the .gz one (9, 9).
        WriteLabels(dir.File("t10k-labels-idx1-ubyte.gz"), gz: true, [9, 9]);

        var (train, test) = Mnist.Load(dir.Path);

        Assert.Equal(3, train.Count);
        Assert.Equal(4, train.FeatureSize);
        Assert.Equal(new[] { 1f, 2f, 3f }, train.Targets.ToArray());
        Assert.Equal(new[] { 4f, 5f }, test.Targets.ToArray());
        Assert.Equal(Pixels(8, seed: 2).Select(b => b / 255f).ToArray(), test.Features.ToArray());
    }

    [Fact]
    public void Pixels_are_byte_over_255_for_every_value_and_every_tail_length()
    {
        using var dir = new TempDirectory();
        // 256 values in every position of the vector loops, then odd lengths to exercise each tail.
        foreach (int count in new[] { 1, 3, 64, 65, 257 })
        {
            byte[] pixels = Enumerable.Range(0, count * 7 * 3).Select(i => (byte)(i * 31 + count)).ToArray();
            string path = dir.File($"images-{count}");
            WriteImages(path, gz: false, count, rows: 7, cols: 3, pixels);
            MnistImages images = Mnist.ReadImages(path);
            Assert.Equal((count, 7, 3), (images.Count, images.Rows, images.Columns));
            Assert.Equal(pixels.Select(b => b / 255f).ToArray(), images.Pixels);
        }
        byte[] all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        WriteImages(dir.File("all.gz"), gz: true, count: 1, rows: 16, cols: 16, all);
        float[] read = Mnist.ReadImages(dir.File("all.gz")).Pixels;
        for (int i = 0; i < 256; i++) Assert.Equal((float)i / 255f, read[i]);
    }

    [Fact]
    public void Load_names_every_missing_file_and_the_directory()
    {
        using var dir = new TempDirectory();
        WriteLabels(dir.File("train-labels-idx1-ubyte.gz"), gz: true, [1]);
        WriteLabels(dir.File("t10k-labels-idx1-ubyte"), gz: false, [1]);

        var ex = Assert.Throws<FileNotFoundException>(() => Mnist.Load(dir.Path));

        Assert.Contains(dir.Path, ex.Message);
        Assert.Contains("train-images-idx3-ubyte[.gz]", ex.Message);
        Assert.Contains("t10k-images-idx3-ubyte[.gz]", ex.Message);
        Assert.DoesNotContain("labels-idx1-ubyte[.gz]", ex.Message);
        Assert.Equal(dir.File("train-images-idx3-ubyte"), ex.FileName);
    }

    [Fact]
    public void Missing_files_and_directories_throw_with_the_path()
    {
        using var dir = new TempDirectory();
        string missing = dir.File("nope-images-idx3-ubyte.gz");
        var ex = Assert.Throws<FileNotFoundException>(() => Mnist.ReadImages(missing));
        Assert.Equal(missing, ex.FileName);
        Assert.Contains(missing, ex.Message);
        Assert.Throws<FileNotFoundException>(() => Mnist.ReadLabels(dir.File("labels")));
        var dirEx = Assert.Throws<DirectoryNotFoundException>(() => Mnist.Load(dir.File("no-such-dir")));
        Assert.Contains(dir.File("no-such-dir"), dirEx.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wrong_magic_says_expected_and_found(bool gz)
    {
        using var dir = new TempDirectory();
        string images = dir.File(Name("images", gz)), labels = dir.File(Name("labels", gz));

        WriteIdx(images, gz, 0x00000804, [1, 2, 2], new byte[4]);
        AssertInvalid(() => Mnist.ReadImages(images), images, "expected magic 0x00000803, found 0x00000804",
            "IDX file of type 0x08 with 4 dimensions");

        WriteLabels(images, gz, [1, 2]); // a labels file given as images
        AssertInvalid(() => Mnist.ReadImages(images), images, "expected magic 0x00000803, found 0x00000801", "swapped");

        WriteImages(labels, gz, 1, 2, 2, new byte[4]); // an images file given as labels
        AssertInvalid(() => Mnist.ReadLabels(labels), labels, "expected magic 0x00000801, found 0x00000803", "swapped");

        WriteIdx(images, gz, BinaryPrimitives.ReverseEndianness(Mnist.ImagesMagic), [1, 2, 2], new byte[4]);
        AssertInvalid(() => Mnist.ReadImages(images), images, "found 0x03080000", "little-endian");

        WriteBytes(images, gz, "PK\u0003\u0004 a zip, not IDX"u8.ToArray());
        AssertInvalid(() => Mnist.ReadImages(images), images, "expected magic 0x00000803, found 0x504B0304", "not an IDX file");
    }

    [Fact]
    public void A_gzip_file_without_gz_and_a_raw_file_with_gz_are_called_out()
    {
        using var dir = new TempDirectory();
        string compressedNoExt = dir.File("train-images-idx3-ubyte");
        File.WriteAllBytes(compressedNoExt, Gzip(Idx(Mnist.ImagesMagic, [1, 2, 2], new byte[4])));
        AssertInvalid(() => Mnist.ReadImages(compressedNoExt), compressedNoExt, "found 0x1F8B", "give it a .gz extension");

        string rawWithExt = dir.File("train-images-idx3-ubyte.gz");
        File.WriteAllBytes(rawWithExt, Idx(Mnist.ImagesMagic, [1, 2, 2], new byte[4]));
        AssertInvalid(() => Mnist.ReadImages(rawWithExt), rawWithExt, "not gzip-compressed", "starts with 00 00 08 03",
            "remove the .gz extension");

        File.WriteAllBytes(rawWithExt, "hello"u8.ToArray());
        AssertInvalid(() => Mnist.ReadImages(rawWithExt), rawWithExt, "not gzip-compressed", "starts with 68 65 6C 6C");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Zero_and_absurd_dimensions_are_rejected(bool gz)
    {
        using var dir = new TempDirectory();
        string images = dir.File(Name("images", gz)), labels = dir.File(Name("labels", gz));

        WriteIdx(images, gz, Mnist.ImagesMagic, [0, 28, 28], []);
        AssertInvalid(() => Mnist.ReadImages(images), images, "0 images of 28x28", "at least 1");
        WriteIdx(images, gz, Mnist.ImagesMagic, [5, 28, 0], []);
        AssertInvalid(() => Mnist.ReadImages(images), images, "5 images of 28x0", "at least 1");
        WriteIdx(labels, gz, Mnist.LabelsMagic, [0], []);
        AssertInvalid(() => Mnist.ReadLabels(labels), labels, "0 labels", "at least 1");

        WriteIdx(images, gz, Mnist.ImagesMagic, [0xFFFFFFFF, 28, 28], new byte[784]);
        AssertInvalid(() => Mnist.ReadImages(images), images, "4294967295 images of 28x28", "absurd");
        WriteIdx(images, gz, Mnist.ImagesMagic, [1, 0x10000, 0x10000], new byte[784]);
        AssertInvalid(() => Mnist.ReadImages(images), images, "1 images of 65536x65536", "absurd");
    }

    [Fact]
    public void Truncated_pixel_data_reports_expected_and_found_bytes()
    {
        using var dir = new TempDirectory();
        string raw = dir.File("images");
        WriteIdx(raw, gz: false, Mnist.ImagesMagic, [2, 28, 28], new byte[1500]);
        AssertInvalid(() => Mnist.ReadImages(raw), raw,
            "expected 1568 bytes of pixel data after the 16-byte header, found 1500.");

        string gz = dir.File("images.gz");
        WriteIdx(gz, gz: true, Mnist.ImagesMagic, [2, 28, 28], new byte[1500]);
        AssertInvalid(() => Mnist.ReadImages(gz), gz,
            "expected 1568 bytes of pixel data after the 16-byte header, found 1500 (after decompression).");

        string labels = dir.File("labels");
        WriteIdx(labels, gz: false, Mnist.LabelsMagic, [10], [1, 2, 3]);
        AssertInvalid(() => Mnist.ReadLabels(labels), labels, "expected 10 bytes of label data after the 8-byte header, found 3.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncated_headers_and_empty_files_are_rejected(bool gz)
    {
        using var dir = new TempDirectory();
        string images = dir.File(Name("images", gz));
        byte[] full = Idx(Mnist.ImagesMagic, [1, 2, 2], new byte[4]);
        for (int cut = 0; cut < 16; cut++)
        {
            WriteBytes(images, gz, full[..cut]);
            var ex = Assert.Throws<InvalidDataException>(() => Mnist.ReadImages(images));
            Assert.Contains(images, ex.Message);
            Assert.Contains(cut == 0 ? "is empty (0 bytes)" : cut < 4 ? $"only {cut} bytes" : $"ends after {cut} bytes", ex.Message);
            if (cut >= 4) Assert.Contains("inside its 16-byte IDX images header", ex.Message);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Trailing_garbage_is_rejected(bool gz)
    {
        using var dir = new TempDirectory();
        string images = dir.File(Name("images", gz)), labels = dir.File(Name("labels", gz));
        WriteBytes(images, gz, [.. Idx(Mnist.ImagesMagic, [2, 2, 2], new byte[8]), 1, 2, 3]);
        AssertInvalid(() => Mnist.ReadImages(images), images, "3 bytes of trailing garbage after the 8 bytes of pixel data", "2 images of 2x2");
        WriteBytes(labels, gz, [.. Idx(Mnist.LabelsMagic, [2], [1, 2]), 7]);
        AssertInvalid(() => Mnist.ReadLabels(labels), labels, "1 bytes of trailing garbage after the 2 bytes of label data");
    }

    [Fact]
    public void Corrupt_gzip_is_reported_as_such()
    {
        using var dir = new TempDirectory();
        string path = dir.File("images.gz");
        byte[] pixels = Pixels(4 * 28 * 28, seed: 3);
        byte[] compressed = Gzip(Idx(Mnist.ImagesMagic, [4, 28, 28], pixels));

        // A flipped byte in the deflate stream, and a broken CRC in the trailer.
        byte[] flipped = (byte[])compressed.Clone();
        flipped[compressed.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, flipped);
        AssertInvalid(() => Mnist.ReadImages(path), path, "not a valid gzip file");

        byte[] badCrc = (byte[])compressed.Clone();
        badCrc[^8] ^= 0x01;
        File.WriteAllBytes(path, badCrc);
        AssertInvalid(() => Mnist.ReadImages(path), path, "not a valid gzip file");

        // A download cut short: the reader must fail, whichever way zlib notices.
        File.WriteAllBytes(path, compressed[..(compressed.Length * 2 / 3)]);
        var ex = Assert.Throws<InvalidDataException>(() => Mnist.ReadImages(path));
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Image_and_label_counts_must_match()
    {
        using var dir = new TempDirectory();
        string images = dir.File("images.gz"), labels = dir.File("labels");
        WriteImages(images, gz: true, count: 3, rows: 2, cols: 2, new byte[12]);
        WriteLabels(labels, gz: false, [1, 2]);
        var ex = Assert.Throws<InvalidDataException>(() => Mnist.Read(images, labels));
        Assert.Equal($"{images} holds 3 images, but {labels} holds 2 labels; they must be the same count.", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Labels_above_9_are_rejected(bool gz)
    {
        using var dir = new TempDirectory();
        string labels = dir.File(Name("labels", gz));
        WriteLabels(labels, gz, [0, 9, 3, 10, 200]);
        var ex = Assert.Throws<InvalidDataException>(() => Mnist.ReadLabels(labels));
        Assert.Equal($"{labels} has label 10 at index 3; MNIST labels are 0 to 9.", ex.Message);
    }

    private static void AssertInvalid(Func<object> read, string path, params string[] fragments)
    {
        var ex = Assert.Throws<InvalidDataException>(read);
        Assert.StartsWith(path, ex.Message);
        foreach (string fragment in fragments) Assert.Contains(fragment, ex.Message);
    }

    private static string Name(string stem, bool gz) => gz ? stem + ".gz" : stem;

    internal static byte[] Pixels(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static void WriteImages(string path, bool gz, int count, int rows, int cols, byte[] pixels) =>
        WriteIdx(path, gz, Mnist.ImagesMagic, [(uint)count, (uint)rows, (uint)cols], pixels);

    private static void WriteLabels(string path, bool gz, byte[] labels) =>
        WriteIdx(path, gz, Mnist.LabelsMagic, [(uint)labels.Length], labels);

    private static void WriteIdx(string path, bool gz, int magic, uint[] dims, byte[] payload) =>
        WriteBytes(path, gz, Idx(magic, dims, payload));

    /// <summary>An IDX file: big-endian magic, big-endian sizes, payload.</summary>
    private static byte[] Idx(int magic, uint[] dims, byte[] payload)
    {
        var bytes = new byte[4 + 4 * dims.Length + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        payload.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static void WriteBytes(string path, bool gz, byte[] bytes) => File.WriteAllBytes(path, gz ? Gzip(bytes) : bytes);

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal)) gzip.Write(bytes);
        return output.ToArray();
    }

    private static byte[] Gunzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress)) gzip.CopyTo(output);
        return output.ToArray();
    }

    private static string LabelSha256(Dataset data) =>
        Convert.ToHexStringLower(SHA256.HashData(data.Targets.ToArray().Select(t => checked((byte)t)).ToArray()));

    private static int[] ClassCounts(Dataset data)
    {
        var counts = new int[10];
        foreach (float t in data.Targets) counts[(int)t]++;
        return counts;
    }

    private static long PixelByteSum(Dataset data)
    {
        long sum = 0;
        foreach (float f in data.Features)
        {
            float scaled = f * 255f;
            int b = (int)MathF.Round(scaled);
            Assert.True(b is >= 0 and <= 255 && b / 255f == f, $"{f} is not a byte over 255");
            sum += b;
        }
        return sum;
    }
}
