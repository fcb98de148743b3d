using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace Compiled.Runtime.Tests.Data;

public sealed class CharTextTests
{
    [Fact]
    public void Load_reads_the_bundled_tinyshakespeare()
    {
        string path = TestData.RepoFile("samples/CharRnn/data/tinyshakespeare.txt.gz");
        var text = CharText.Load(path);
        string all = text.Train + text.Validation;
        // The published checksum of char-rnn's input.txt (the sample's data/README.md).
        Assert.Equal("86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(all))));
        Assert.Equal(1_115_394, all.Length);
        Assert.Equal(65, text.VocabularySize);
        Assert.Equal("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", text.Vocabulary);
        Assert.Equal(1_003_855, text.Train.Length); // 90%, rounded as char-rnn's split
        Assert.StartsWith("First Citizen:", text.Train);
    }

    [Fact]
    public void Windows_pair_each_character_with_the_next()
    {
        var text = new CharText("abcabcabcd", validationFraction: 0.2);
        Assert.Equal("abcd", text.Vocabulary);
        Assert.Equal("abcabcab", text.Train);
        Assert.Equal("cd", text.Validation);
        Dataset windows = text.Windows(text.Train, steps: 3);
        // Disjoint windows of 3 + 1 characters: "abca" and "abca" (starting at 0 and 3), and nothing from 6 ("ab").
        Assert.Equal(2, windows.Count);
        Assert.Equal(3, windows.FeatureSize);
        Assert.Equal(3, windows.TargetSize);
        Assert.Equal(new float[] { 0, 1, 2, 0, 1, 2 }, windows.Features.ToArray());
        Assert.Equal(new float[] { 1, 2, 0, 1, 2, 0 }, windows.Targets.ToArray());
        Assert.Equal("abc", text.Decode(windows.FeaturesOf(1)));
        Dataset overlapping = text.Windows(text.Train, steps: 3, stride: 1);
        Assert.Equal(5, overlapping.Count);
        Assert.Equal("bca", text.Decode(overlapping.TargetsOf(0)));
        Assert.Equal("bca", text.Decode(overlapping.FeaturesOf(4)));
        Assert.Equal(new float[] { 3, 0 }, text.Encode("da"));
    }

    [Fact]
    public void Bad_characters_ids_and_files_name_what_is_wrong()
    {
        var text = new CharText("hello world");
        var e = Assert.Throws<ArgumentException>(() => text.Encode("hello!"));
        Assert.Contains("position 5", e.Message);
        Assert.Contains("'!'", e.Message);
        e = Assert.Throws<ArgumentException>(() => text.Decode([0, 1, 8]));
        Assert.Contains("position 2", e.Message);
        Assert.Throws<ArgumentException>(() => text.Decode([0.5f]));
        Assert.Throws<ArgumentException>(() => text.Windows("hel", steps: 3));
        Assert.Throws<ArgumentException>(() => new CharText("a"));

        string missing = Path.Combine(Path.GetTempPath(), "compiled-no-such-text.txt");
        var notFound = Assert.Throws<FileNotFoundException>(() => CharText.Load(missing));
        Assert.Contains(missing, notFound.Message);
        string bad = Path.Combine(Path.GetTempPath(), $"compiled-bad-{Guid.NewGuid():N}.txt.gz");
        try
        {
            File.WriteAllBytes(bad, [0x1F, 0x8B, 1, 2, 3]);
            var invalid = Assert.Throws<InvalidDataException>(() => CharText.Load(bad));
            Assert.Contains(bad, invalid.Message);
            // A plain UTF-8 file (even named .gz), and a gzip one without the .gz name (found by its signature), read the same.
            File.WriteAllText(bad, "to be or not");
            Assert.Equal("to be or not", CharText.Load(bad, 0).Train);
            using (var gz = new GZipStream(File.Create(bad + ".bin"), CompressionLevel.Fastest))
                gz.Write("to be"u8);
            Assert.Equal("to be", CharText.Load(bad + ".bin", 0).Train);
        }
        finally
        {
            File.Delete(bad);
            File.Delete(bad + ".bin");
        }
    }
}
