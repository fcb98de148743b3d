using System.IO.Compression;
using Xunit;

namespace Compiled.Runtime.Tests.Data;

public sealed class Cifar10Tests
{
    // Distinct planes, so any mix-up of channel, row or column shows: red = (y*32 + x + k) % 256, etc.
    private static byte Red(int k, int y, int x) => (byte)((y * 32 + x + k) % 256);
    private static byte Green(int k, int y, int x) => (byte)((7 * (y * 32 + x) + 3 * k) % 256);
    private static byte Blue(int k, int y, int x) => (byte)(255 - (y * 5 + x * 11 + k) % 256);

    /// <summary>One record in the official layout: label, 1024 red (row-major), 1024 green, 1024 blue.</summary>
    private static byte[] Record(int label, int k)
    {
        var bytes = new byte[3073];
        bytes[0] = (byte)label;
        for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
        {
            bytes[1 + y * 32 + x] = Red(k, y, x);
            bytes[1 + 1024 + y * 32 + x] = Green(k, y, x);
            bytes[1 + 2048 + y * 32 + x] = Blue(k, y, x);
        }
        return bytes;
    }

    private static void WriteBatch(string path, params (int Label, int K)[] records) =>
        File.WriteAllBytes(path, records.SelectMany(r => Record(r.Label, r.K)).ToArray());

    [Fact]
    public void A_batch_decodes_to_hwc_floats_in_unit_range()
    {
        using var dir = new TempDirectory();
        string path = dir.File("data_batch_1.bin");
        WriteBatch(path, (3, 0), (9, 100), (0, 77));

        Dataset data = Cifar10.Read(path);

        Assert.Equal(3, data.Count);
        Assert.Equal(3072, data.FeatureSize);
        Assert.Equal(1, data.TargetSize);
        Assert.Equal(new[] { 3f, 9f, 0f }, data.Targets.ToArray());
        int[] ks = [0, 100, 77];
        for (int s = 0; s < 3; s++)
        {
            ReadOnlySpan<float> f = data.FeaturesOf(s);
            for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
            {
                int at = (y * 32 + x) * 3;
                Assert.Equal(Red(ks[s], y, x) / 255f, f[at]);
                Assert.Equal(Green(ks[s], y, x) / 255f, f[at + 1]);
                Assert.Equal(Blue(ks[s], y, x) / 255f, f[at + 2]);
            }
        }
    }

    [Fact]
    public void Load_concatenates_the_five_training_batches_in_order()
    {
        using var dir = new TempDirectory();
        WriteBatch(dir.File("data_batch_1.bin"), (1, 1), (2, 2));
        WriteBatch(dir.File("data_batch_2.bin"), (3, 3));
        WriteBatch(dir.File("data_batch_3.bin"), (4, 4), (5, 5), (6, 6));
        WriteBatch(dir.File("data_batch_4.bin"), (7, 7));
        WriteBatch(dir.File("data_batch_5.bin"), (8, 8));
        WriteBatch(dir.File("test_batch.bin"), (9, 9), (0, 10));

        var (train, test) = Cifar10.Load(dir.Path);

        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f }, train.Targets.ToArray());
        Assert.Equal(new[] { 9f, 0f }, test.Targets.ToArray());
        // Sample 5 came from record k = 6 of data_batch_3: check its pixel (y 31, x 30) in every channel.
        int at = (31 * 32 + 30) * 3;
        Assert.Equal(Red(6, 31, 30) / 255f, train.FeaturesOf(5)[at]);
        Assert.Equal(Green(6, 31, 30) / 255f, train.FeaturesOf(5)[at + 1]);
        Assert.Equal(Blue(6, 31, 30) / 255f, train.FeaturesOf(5)[at + 2]);
        Assert.Equal(Blue(10, 31, 30) / 255f, test.FeaturesOf(1)[at + 2]);
        Assert.Equal("truck", Cifar10.ClassNames[9]);
    }

    [Fact]
    public void Load_finds_the_extracted_archive_folder()
    {
        using var dir = new TempDirectory();
        string nested = Directory.CreateDirectory(dir.File("cifar-10-batches-bin")).FullName;
        foreach (string name in Cifar10.TrainFiles) WriteBatch(Path.Combine(nested, name), (1, 1));
        WriteBatch(Path.Combine(nested, Cifar10.TestFile), (2, 2));

        var (train, test) = Cifar10.Load(dir.Path);

        Assert.Equal(5, train.Count);
        Assert.Equal(1, test.Count);
    }

    [Fact]
    public void Load_lists_every_missing_file()
    {
        using var dir = new TempDirectory();
        WriteBatch(dir.File("data_batch_1.bin"), (1, 1));
        WriteBatch(dir.File("data_batch_3.bin"), (1, 1));

        var ex = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(dir.Path));

        Assert.Contains($"'{dir.Path}' lacks data_batch_2.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin.", ex.Message);
        Assert.Equal(dir.File("data_batch_2.bin"), ex.FileName);
        Assert.Throws<DirectoryNotFoundException>(() => Cifar10.Load(dir.File("absent")));
        var single = Assert.Throws<FileNotFoundException>(() => Cifar10.Read(dir.File("absent.bin")));
        Assert.Equal(dir.File("absent.bin"), single.FileName);
    }

    [Fact]
    public void A_length_that_is_not_whole_records_is_rejected_with_the_numbers()
    {
        using var dir = new TempDirectory();
        string path = dir.File("data_batch_1.bin");
        File.WriteAllBytes(path, [.. Record(1, 1), .. Record(2, 2), 0, 0, 0, 0, 0]);

        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Read(path));

        Assert.Equal($"{path} is 6151 bytes long, which is not a whole number of 3073-byte CIFAR-10 records " +
            "(1 label byte + 3072 pixel bytes): 2 records and 5 bytes left over.", ex.Message);
    }

    [Fact]
    public void Empty_gzip_and_cifar100_files_get_specific_messages()
    {
        using var dir = new TempDirectory();
        string path = dir.File("test_batch.bin");

        File.WriteAllBytes(path, []);
        Assert.Equal($"{path} is empty; a CIFAR-10 batch holds 3073-byte records.",
            Assert.Throws<InvalidDataException>(() => Cifar10.Read(path)).Message);

        using (var output = File.Create(path))
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            gzip.Write(Record(1, 1));
        Assert.Contains("gzip-compressed", Assert.Throws<InvalidDataException>(() => Cifar10.Read(path)).Message);

        File.WriteAllBytes(path, new byte[3074 * 2]);
        Assert.Contains("CIFAR-100", Assert.Throws<InvalidDataException>(() => Cifar10.Read(path)).Message);
    }

    [Fact]
    public void Labels_above_9_are_rejected_with_the_record()
    {
        using var dir = new TempDirectory();
        string good = dir.File("data_batch_1.bin"), bad = dir.File("data_batch_2.bin");
        WriteBatch(good, (1, 1));
        WriteBatch(bad, (1, 1), (10, 2));

        var ex = Assert.Throws<InvalidDataException>(() => Cifar10.Read(good, bad));

        Assert.Equal($"{bad} has label 10 in record 1 (byte offset 3073); CIFAR-10 labels are 0 to 9.", ex.Message);
    }
}
