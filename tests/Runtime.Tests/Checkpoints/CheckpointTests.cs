using System.Buffers.Binary;
using System.Text;
using Xunit;
using static Compiled.Runtime.Tests.Checkpoints.SafetensorsFiles;

namespace Compiled.Runtime.Tests.Checkpoints;

public sealed class CheckpointTests
{
    [Fact]
    public void Round_trip_restores_every_bit_and_the_same_predictions()
    {
        using var dir = new TempDirectory();
        var original = new CheckpointMlp(seed: 1);
        // Non-zero biases and awkward values (negative zero, subnormal, NaN payload, infinity) must survive bit for bit.
        Span<float> p = original.Parameters;
        foreach (TensorInfo t in original.Tensors)
            if (t.Name.EndsWith(".bias", StringComparison.Ordinal))
                for (int i = 0; i < t.Length; i++) p[t.Offset + i] = 0.01f * (i - 5);
        p[7] = -0f;
        p[8] = float.Epsilon;
        p[9] = BitConverter.Int32BitsToSingle(0x7FC12345);
        p[10] = float.NegativeInfinity;
        string path = dir.File("mnist.safetensors");

        original.Save(path);
        var loaded = new CheckpointMlp(seed: 2);
        Assert.NotEqual(Bits(original.Parameters), Bits(loaded.Parameters));
        // NaN and infinity are refused by default (see CheckpointRobustnessTests); the opt-out loads them bit for bit.
        loaded.LoadWeights(path, allowNonFinite: true);
        var viaStatic = new CheckpointMlp(seed: 3);
        Checkpoint.Load(viaStatic, path, allowNonFinite: true);

        int[] expected = Bits(original.Parameters);
        Assert.Equal(expected, Bits(loaded.Parameters));
        Assert.Equal(expected, Bits(viaStatic.Parameters));
        p[9] = 0.5f;
        p[10] = -0.5f;
        original.Save(path);
        Assert.Equal(Bits(original.Parameters), Bits(CheckpointMlp.Load(path).Parameters)); // negative zero, subnormal

        // Predictions.
        loaded.LoadWeights(path);
        float[] input = Enumerable.Range(0, 3 * 784).Select(i => MathF.Sin(i * 0.01f)).ToArray();
        float[] a = new float[30], b = new float[30];
        original.Forward(input, a, 3);
        loaded.Forward(input, b, 3);
        Assert.Equal(Bits(a), Bits(b));
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void File_bytes_match_the_hand_computed_layout()
    {
        using var dir = new TempDirectory();
        var model = new TinyMlp();
        float[] values = Ramp(23, -2.5f);
        values.CopyTo(model.Parameters);
        string path = dir.File("tiny.safetensors");

        model.Save(path);

        byte[] file = File.ReadAllBytes(path);
        const string json =
            "{\"__metadata__\":{\"format\":\"pt\",\"model\":\"Compiled.Runtime.Tests.Checkpoints.TinyMlp\"}," +
            "\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}," +
            "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}," +
            "\"layers.1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[60,84]}," +
            "\"layers.1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[84,92]}}";
        // 360 bytes of JSON: already a multiple of 8, so no padding; 8 + 360 + 23·4 = 460 bytes in all.
        Assert.Equal(460, file.Length);
        Assert.Equal(360UL, BinaryPrimitives.ReadUInt64LittleEndian(file));
        Assert.Equal(json, Encoding.UTF8.GetString(file, 8, 360));
        Assert.Equal(F32(values), file[368..]);
        Assert.Equal(-2.5f, BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(368)));
    }

    [Fact]
    public void The_header_is_padded_with_spaces_to_a_multiple_of_8()
    {
        using var dir = new TempDirectory();
        var model = new DeeperMlp();
        float[] values = Ramp(35, 1f);
        values.CopyTo(model.Parameters);
        string path = dir.File("deeper.safetensors");

        model.Save(path);

        byte[] file = File.ReadAllBytes(path);
        const string json =
            "{\"__metadata__\":{\"format\":\"pt\",\"model\":\"Compiled.Runtime.Tests.Checkpoints.DeeperMlp\"}," +
            "\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}," +
            "\"layers.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}," +
            "\"layers.1.weight\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[60,96]}," +
            "\"layers.1.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[96,108]}," +
            "\"layers.2.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[108,132]}," +
            "\"layers.2.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[132,140]}}";
        // 505 bytes of JSON + 7 spaces = 512; 8 + 512 + 35·4 = 660.
        Assert.Equal(660, file.Length);
        Assert.Equal(512UL, BinaryPrimitives.ReadUInt64LittleEndian(file));
        Assert.Equal(json + "       ", Encoding.UTF8.GetString(file, 8, 512));
        Assert.Equal(F32(values), file[520..]);
    }

    [Fact]
    public void A_file_laid_out_differently_loads_by_name()
    {
        // Sorted by name (as PyTorch's writer does), extra spaces of padding, metadata last: still the same tensors.
        using var dir = new TempDirectory();
        string path = dir.File("sorted.safetensors");
        float[] w0 = Ramp(12, 1f), b0 = Ramp(3, -1f), w1 = Ramp(6, 10f), b1 = Ramp(2, 20f);
        string header = Header(null,
            new Entry("layers.0.bias", "F32", [3], 0, 12),
            new Entry("layers.0.weight", "F32", [3, 4], 12, 60),
            new Entry("layers.1.bias", "F32", [2], 60, 68),
            new Entry("layers.1.weight", "F32", [2, 3], 68, 92));
        header = header[..^1] + ",\"__metadata__\":{\"format\":\"pt\",\"note\":\"é\"}}" + "           ";
        Write(path, header, [.. F32(b0), .. F32(w0), .. F32(b1), .. F32(w1)]);

        var model = new TinyMlp(seed: 5);
        model.LoadWeights(path);

        Assert.Equal(w0.Concat(b0).Concat(w1).Concat(b1).ToArray(), model.Parameters.ToArray());
    }

    [Fact]
    public void A_wrong_shape_names_the_tensor_the_file_and_both_shapes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("mnist.safetensors");
        new NarrowMlp(seed: 1).Save(path);

        AssertLoadFails(new CheckpointMlp(seed: 2), path,
            exact: $"layers.0.weight in {path} has shape [64, 784], but the model expects [128, 784].");
    }

    [Fact]
    public void Missing_and_unexpected_tensors_are_listed()
    {
        using var dir = new TempDirectory();
        string tiny = dir.File("tiny.safetensors"), deeper = dir.File("deeper.safetensors");
        new TinyMlp(seed: 1).Save(tiny);
        new DeeperMlp(seed: 1).Save(deeper);

        AssertLoadFails(new TinyMlp(seed: 2), deeper, exact:
            $"{deeper} does not match TinyMlp (unexpected tensors: layers.2.weight, layers.2.bias). " +
            "Loading is strict: the file must hold exactly the model's tensors.");
        AssertLoadFails(new DeeperMlp(seed: 2), tiny, "does not match DeeperMlp (missing tensors: layers.2.weight, layers.2.bias)");

        string crafted = dir.File("crafted.safetensors");
        Entry[] e = TinyEntries();
        Write(crafted, Header(null, e[0], e[1], e[2], new Entry("head.bias", "F32", [2], 84, 92)), new byte[92]);
        AssertLoadFails(new TinyMlp(seed: 2), crafted, "(missing tensors: layers.1.bias; unexpected tensors: head.bias)");
    }

    [Fact]
    public void A_wrong_dtype_is_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("f64.safetensors");
        Entry[] e = TinyEntries();
        Write(path, Header("{\"format\":\"pt\"}",
            new Entry("layers.0.weight", "F64", [3, 4], 0, 96), e[1] with { Begin = 96, End = 108 },
            e[2] with { Begin = 108, End = 132 }, e[3] with { Begin = 132, End = 140 }), new byte[140]);
        AssertLoadFails(new TinyMlp(seed: 1), path, exact: $"layers.0.weight in {path} has dtype F64, but the model needs F32.");

        Write(path, Header(null, e[0], e[1], e[2], new Entry("layers.1.bias", "F16", [2], 84, 88)), new byte[88]);
        AssertLoadFails(new TinyMlp(seed: 1), path, exact: $"layers.1.bias in {path} has dtype F16, but the model needs F32.");
    }

    [Fact]
    public void Every_truncation_of_a_small_file_is_rejected_and_leaves_the_model_unchanged()
    {
        using var dir = new TempDirectory();
        string full = dir.File("tiny.safetensors"), cut = dir.File("cut.safetensors");
        new TinyMlp(seed: 1).Save(full);
        byte[] bytes = File.ReadAllBytes(full);
        Assert.Equal(460, bytes.Length);
        var model = new TinyMlp(seed: 2);

        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(cut, bytes[..length]);
            string expected = length < 8 ? $"{cut} is {length} bytes long, too short"
                : length < 368 ? $"{cut} declares a header of 360 bytes, but only {length - 8} bytes follow"
                : $"{cut} is truncated: ";
            AssertLoadFails(model, cut, expected);
        }
        model.LoadWeights(full); // and the whole file still loads
        Assert.Equal(Bits(new TinyMlp(seed: 1).Parameters), Bits(model.Parameters));
    }

    [Fact]
    public void Header_sizes_beyond_the_file_or_the_limit_are_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.safetensors");
        string header = Header(null, TinyEntries());
        var model = new TinyMlp(seed: 1);

        Write(path, header, new byte[92], declaredSize: (ulong)header.Length + 92 + 1);
        AssertLoadFails(model, path, $"declares a header of {header.Length + 93} bytes, but only {header.Length + 92} bytes follow");
        Write(path, header, new byte[92], declaredSize: ulong.MaxValue);
        AssertLoadFails(model, path, "declares a header of 18446744073709551615 bytes");
        Write(path, header, new byte[92], declaredSize: 1);
        AssertLoadFails(model, path, "declares a header of 1 bytes, too small");

        // A file longer than the limit (sparse, so it costs no disk) whose header claims 100,000,001 bytes.
        using (var stream = File.Create(path))
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, 100_000_001);
            stream.Write(size);
            stream.SetLength(100_000_001 + 8 + 92);
        }
        AssertLoadFails(model, path, exact: $"{path} declares a header of 100000001 bytes, more than the 100000000-byte limit.");
    }

    public static TheoryData<string, string> HostileHeaders => new()
    {
        { "not json at all", "does not start with '{'" },
        { "[1, 2, 3]", "does not start with '{'" },
        { "{\"layers.0.weight\":", "not valid JSON" },
        { "{\"a\" 1}", "not valid JSON" },
        { "{\"layers.0.weight\": 5}", "\"layers.0.weight\" in {0} is a number, but must be an object" },
        { "{} trailing", "not valid JSON" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":" + new string('[', 2000) + new string(']', 2000) + ",\"data_offsets\":[0,0]}}", "in {0}" },
        { "{\"__metadata__\":" + new string('[', 2000) + "}", "in {0}" },
        { "{\"__metadata__\":{\"epoch\":3}}", "metadata values must be strings" },
        { "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "names \"a\" twice" },
        { "{\"__metadata__\":{},\"__metadata__\":{}}", "names \"__metadata__\" twice" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "names \"t\" twice" },
        { "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "gives dtype twice" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"3\",\"4\"],\"data_offsets\":[0,48]}}", "shape of \"t\" in {0} holds a string" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":\"3x4\",\"data_offsets\":[0,48]}}", "shape of \"t\" in {0} is a string" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[-3,4],\"data_offsets\":[0,48]}}", "holds -3, which is not a whole number in [0, 2147483647]" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[3.5,4],\"data_offsets\":[0,48]}}", "holds 3.5, which is not a whole number" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e400,4],\"data_offsets\":[0,48]}}", "holds 1e400, which is not a whole number" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2147483648],\"data_offsets\":[0,48]}}", "holds 2147483648, which is not a whole number in [0, 2147483647]" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,48]}}", "needs more bytes than any file holds" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}", "holds 18446744073709551616, which is not a whole number" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9223372036854775808]}}", "which is not a whole number in [0, 9223372036854775807]" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", "has 3 numbers, but must be [begin, end]" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "which end before they begin" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":{}}}", "unknown field \"extra\"" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", "lacks data_offsets" },
        { "{\"t\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype of \"t\" in {0} is a number" },
        { "{\"t\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unknown dtype \"F33\"" },
        { "{\"t\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,40]}}", "(40 bytes), but shape [3, 4] of F32 needs 48 bytes" },
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public void Hostile_headers_are_rejected(string header, string fragment)
    {
        using var dir = new TempDirectory();
        string path = dir.File("hostile.safetensors");
        Write(path, header, new byte[92]);
        AssertLoadFails(new TinyMlp(seed: 1), path, fragment.Replace("{0}", path, StringComparison.Ordinal));
    }

    [Fact]
    public void A_header_that_is_not_utf8_is_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("latin1.safetensors");
        byte[] header = [.. "{\"__metadata__\":{\"a\":\""u8, 0xE9, .. "\"}}"u8];
        Write(path, header, []);
        AssertLoadFails(new TinyMlp(seed: 1), path, exact: $"The header of {path} is not valid UTF-8.");
    }

    [Fact]
    public void Overlaps_gaps_and_trailing_bytes_in_the_data_region_are_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("regions.safetensors");
        Entry[] e = TinyEntries();
        var model = new TinyMlp(seed: 1);

        Write(path, Header(null, e[0], e[1] with { Begin = 44, End = 56 }, e[2] with { Begin = 56, End = 80 }, e[3] with { Begin = 80, End = 88 }), new byte[88]);
        AssertLoadFails(model, path, exact: $"\"layers.0.bias\" (bytes [44, 56)) overlaps \"layers.0.weight\" (bytes [0, 48)) in {path}.");

        Write(path, Header(null, e[0], e[1], e[2], e[3] with { Begin = 0, End = 8 }), new byte[92]);
        AssertLoadFails(model, path, "overlaps");

        Write(path, Header(null, e[0], e[1] with { Begin = 52, End = 64 }, e[2] with { Begin = 64, End = 88 }, e[3] with { Begin = 88, End = 96 }), new byte[96]);
        AssertLoadFails(model, path, exact: $"{path} has 4 unused bytes before \"layers.0.bias\" in its data region; tensors must lie back to back.");

        Write(path, Header(null, e), new byte[100]);
        AssertLoadFails(model, path, exact: $"{path} has 8 bytes of trailing data after the last tensor.");
    }

    [Fact]
    public void A_missing_file_throws_FileNotFoundException()
    {
        using var dir = new TempDirectory();
        string path = dir.File("absent.safetensors");
        var model = new TinyMlp(seed: 1);
        int[] before = Bits(model.Parameters);
        var ex = Assert.Throws<FileNotFoundException>(() => model.LoadWeights(path));
        Assert.Equal(path, ex.FileName);
        Assert.Throws<FileNotFoundException>(() => TinyMlp.Load(path));
        Assert.Equal(before, Bits(model.Parameters));
    }

    [Fact]
    public void Save_replaces_an_existing_file_and_leaves_no_temporary_files()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        File.WriteAllText(path, "an older, longer checkpoint that must be replaced completely".PadRight(4096, '.'));

        new TinyMlp(seed: 1).Save(path);

        Assert.Equal(460, new FileInfo(path).Length);
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
        Assert.Equal(Bits(new TinyMlp(seed: 1).Parameters), Bits(TinyMlp.Load(path).Parameters));
    }

    [Fact]
    public void A_write_that_fails_midway_leaves_the_old_file_intact()
    {
        // Simulates the disk filling up (or the process being interrupted) after half the data is written.
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        new TinyMlp(seed: 1).Save(path);
        byte[] before = File.ReadAllBytes(path);

        var ex = Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[300]);
            stream.Flush();
            Assert.Equal(2, Directory.GetFiles(dir.Path).Length); // the temporary file exists beside the target
            throw new IOException("No space left on device (simulated)");
        }));

        Assert.Equal($"Cannot write '{path}': No space left on device (simulated)", ex.Message);
        Assert.Equal("No space left on device (simulated)", ex.InnerException!.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_rename_that_fails_leaves_no_temporary_file()
    {
        // The target is a non-empty directory: the temporary file is written, the rename over it fails.
        using var dir = new TempDirectory();
        string target = Directory.CreateDirectory(dir.File("model.safetensors")).FullName;
        File.WriteAllText(Path.Combine(target, "keep.txt"), "keep");

        Assert.ThrowsAny<IOException>(() => new TinyMlp(seed: 1).Save(target));

        Assert.Empty(Directory.GetFiles(dir.Path));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(target, "keep.txt")));
    }

    [Fact]
    public void Save_into_a_missing_directory_throws_and_creates_nothing()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "no-such-dir", "model.safetensors");
        Assert.Throws<DirectoryNotFoundException>(() => new TinyMlp(seed: 1).Save(path));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void A_model_with_an_inconsistent_tensor_table_is_refused_before_anything_is_written()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        new TinyMlp(seed: 1).Save(path);
        byte[] before = File.ReadAllBytes(path);

        var broken = new TableOnlyModel(new float[10], new TensorInfo("w", 4, [2, 4]));
        var ex = Assert.Throws<InvalidOperationException>(() => broken.Save(path));
        Assert.Contains("w (offset 4, shape [2, 4]) does not fit its 10-float parameter arena", ex.Message);
        var twice = new TableOnlyModel(new float[10], new TensorInfo("w", 0, [2]), new TensorInfo("w", 2, [2]));
        Assert.Contains("repeated tensor name \"w\"", Assert.Throws<InvalidOperationException>(() => twice.Save(path)).Message);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    /// <summary>Loads must throw <see cref="InvalidDataException"/> naming the file and leave every parameter as it was.</summary>
    internal static void AssertLoadFails(IModel model, string path, string? contains = null, string? exact = null)
    {
        int[] before = Bits(model.Parameters);
        var ex = Assert.Throws<InvalidDataException>(() => model.LoadWeights(path));
        Assert.Contains(path, ex.Message);
        if (contains is not null) Assert.Contains(contains, ex.Message);
        if (exact is not null) Assert.Equal(exact, ex.Message);
        Assert.Equal(before, Bits(model.Parameters));
    }

    /// <summary>A hand-written <see cref="IModel"/> whose tensor table is whatever a test needs (only checkpoints use it).</summary>
    private sealed class TableOnlyModel(float[] parameters, params TensorInfo[] tensors) : IModel
    {
        public int InputSize => 1;
        public int OutputSize => 1;
        public int TargetSize => 1;
        public Loss Loss => Loss.MeanSquaredError;
        public Span<float> Parameters => parameters;
        public Span<float> Gradients => Span<float>.Empty;
        public ReadOnlySpan<TensorInfo> Tensors => tensors;
        public Rng Random { get; set; }
        public void Forward(ReadOnlySpan<float> inputs, Span<float> outputs, int batch) => throw new NotSupportedException();
        public float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, Span<float> outputs, int batch) =>
            throw new NotSupportedException();
    }
}
