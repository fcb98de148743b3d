using System.Collections.Immutable;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Compiled;

/// <summary>
/// Saves and loads a model's parameters as <a href="https://github.com/huggingface/safetensors">safetensors</a>,
/// the format PyTorch and Hugging Face use, so checkpoints move both ways with
/// <c>torch.nn.Module.load_state_dict</c> (tensor names are PyTorch's, <c>layers.0.weight</c> [out, in]).
/// </summary>
/// <remarks>
/// <para>File layout: an 8-byte little-endian header size N, N bytes of UTF-8 JSON padded with spaces to a multiple
/// of 8, then the tensors' little-endian data back to back. Saving writes <c>__metadata__</c> first
/// (<c>{"format": "pt", "model": type name}</c>), then every tensor of <see cref="IModel.Tensors"/> as F32 in arena
/// order, then every buffer of <see cref="IModel.BufferTensors"/> (BatchNorm running statistics as F32,
/// <c>num_batches_tracked</c> as I64, as PyTorch saves them), so header order is data order (as the reference
/// implementation writes it).</para>
/// <para>Loading is strict, like <c>load_state_dict(strict=True)</c>: the file must hold exactly the model's tensors,
/// each F32 with exactly the model's shape. Everything is read and checked before the model is touched, so a
/// failed load leaves the model's parameters unchanged. No reflection is used (NativeAOT and trim safe).</para>
/// </remarks>
public static partial class Checkpoint
{
    /// <summary>The largest safetensors header accepted on load (100 MB, as in the reference implementation).</summary>
    public const long MaxHeaderSize = SafetensorsHeader.MaxHeaderSize;

    /// <summary>
    /// Saves every parameter and buffer of <paramref name="model"/> to <paramref name="path"/> as safetensors, atomically: the
    /// file is written to a temporary file in the same directory, flushed to disk and renamed over
    /// <paramref name="path"/>. On failure the temporary file is removed and an existing file is left untouched.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model's tensor table is inconsistent (a generator bug), or
    /// <c>Fit</c> is training the model on another thread.</exception>
    /// <exception cref="IOException">The file cannot be written (<see cref="DirectoryNotFoundException"/> when its directory
    /// is missing); the message names <paramref name="path"/>, and the cause (for example an
    /// <see cref="UnauthorizedAccessException"/> from a read-only directory) is the inner exception. Temporary files left by
    /// earlier saves of the same path whose process died are removed.</exception>
    public static void Save(this IModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        model.Sync?.CheckTrainer("save"); // Fit on another thread would tear the weights mid-write
        Slot[] tensors = CheckLayout(model);
        byte[] header = BuildHeader(tensors, model.GetType().FullName ?? model.GetType().Name);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> size = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)header.Length);
            stream.Write(size);
            stream.Write(header);
            WriteData(stream, model, tensors);
        });
    }

    /// <summary>
    /// Loads the parameters (and buffers: BatchNorm running statistics) saved at <paramref name="path"/> into
    /// <paramref name="model"/>. The file must hold exactly the model's tensors, as F32 (I64 for a
    /// <c>num_batches_tracked</c> counter) with the model's shapes, every float finite; otherwise nothing changes and it
    /// throws.
    /// </summary>
    /// <remarks>A NaN or infinite parameter is refused because a model holding one predicts NaN for every input, which
    /// would otherwise surface far from its cause. To load such a file anyway (to inspect a diverged run), pass
    /// <c>allowNonFinite: true</c> to <see cref="Load(IModel, string, bool)"/>.</remarks>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is a directory, or not a regular file (a pipe, socket or device), or
    /// cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, does not fit the model, or holds a NaN or infinity;
    /// the message names the file, the tensor and the problem (for example <c>layers.0.weight in mnist.safetensors has
    /// shape [64, 784], but the model expects [128, 784]</c>).</exception>
    public static void Load(IModel model, string path) => Load(model, path, allowNonFinite: false);

    /// <summary>
    /// Loads the parameters saved at <paramref name="path"/> into <paramref name="model"/>, as
    /// <see cref="Load(IModel, string)"/> does; with <paramref name="allowNonFinite"/> a file holding NaN or infinite
    /// values loads too (bit for bit) instead of being refused.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is a directory or not a regular file, or cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is malformed or does not fit the model; the model is unchanged.</exception>
    /// <exception cref="InvalidOperationException"><c>Fit</c> is training the model on another thread.</exception>
    public static void Load(IModel model, string path, bool allowNonFinite)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        Slot[] tensors = CheckLayout(model);
        using FileStream file = OpenCheckpoint(path);
        SafetensorsHeader header = SafetensorsHeader.Read(file, path);
        SafetensorsEntry[] entries = Match(header, tensors, model, path);

        // Stage everything; the model is written only after every byte has been read and checked.
        float[] staging = model.Parameters.ToArray();
        float[] stagingBuffers = model.Buffers.ToArray();
        for (int i = 0; i < tensors.Length; i++)
        {
            TensorInfo info = tensors[i].Info;
            Span<float> target = (tensors[i].IsBuffer ? stagingBuffers : staging).AsSpan(info.Offset, info.Floats);
            file.Position = header.DataStart + entries[i].Begin;
            try
            {
                file.ReadExactly(MemoryMarshal.AsBytes(target));
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException($"{path} ended while reading {info.Name}; it changed while being loaded.", ex);
            }
            if (!BitConverter.IsLittleEndian) ReverseEndianness(target, info.DataType);
            if (info.DataType != TensorDataType.Float32) continue;
            if (!allowNonFinite && FloatChecks.IndexOfNonFinite(target) is int bad and >= 0)
                throw new InvalidDataException(
                    $"{info.Name} in {path} holds {FloatChecks.Describe(target[bad])} at index {bad} (shape {Format(info.Shape)}); " +
                    "a model with a non-finite parameter predicts NaN. The run that saved it probably diverged: lower the learning rate " +
                    "or clip gradients. To load it anyway, call Checkpoint.Load(model, path, allowNonFinite: true).");
        }
        model.Sync?.CheckTrainer("load weights into");
        staging.CopyTo(model.Parameters);
        stagingBuffers.CopyTo(model.Buffers);
    }

    /// <summary>Loads the parameters saved at <paramref name="path"/> into this model; see <see cref="Load(IModel, string)"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is a directory or not a regular file, or cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, does not fit the model or holds a NaN or infinity;
    /// the model is unchanged.</exception>
    public static void LoadWeights(this IModel model, string path) => Load(model, path, allowNonFinite: false);

    /// <summary>Loads the parameters saved at <paramref name="path"/> into this model; see <see cref="Load(IModel, string, bool)"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is a directory or not a regular file, or cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is malformed or does not fit the model; the model is unchanged.</exception>
    public static void LoadWeights(this IModel model, string path, bool allowNonFinite) => Load(model, path, allowNonFinite);

    /// <summary>
    /// Opens a checkpoint for reading after checking, before opening, that it is an existing regular file: opening a
    /// FIFO would block until some other process writes to it, and a directory is not "missing".
    /// </summary>
    private static FileStream OpenCheckpoint(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(path))
            throw new IOException($"The checkpoint path '{full}' is a directory, not a file. Give the path of a .safetensors file.");
        if (!File.Exists(path))
            throw new FileNotFoundException($"The checkpoint '{full}' does not exist.", path);
        DataFile.RequireRegularFile(path, "checkpoint");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException($"Cannot read the checkpoint '{full}': permission denied ({ex.Message}).", ex);
        }
    }

    /// <summary>Reads every tensor of a safetensors file (F32, or I64 converted to float), for tests and tools.</summary>
    internal static Dictionary<string, (int[] Shape, float[] Data)> ReadAll(string path, out Dictionary<string, string> metadata)
    {
        using FileStream file = OpenCheckpoint(path);
        SafetensorsHeader header = SafetensorsHeader.Read(file, path);
        metadata = header.Metadata;
        var result = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (SafetensorsEntry e in header.Entries)
        {
            if (e.DType is not ("F32" or "I64")) throw new InvalidDataException($"{e.Name} in {path} has dtype {e.DType}, not F32 or I64.");
            var data = new float[e.ByteLength / sizeof(float)];
            file.Position = header.DataStart + e.Begin;
            file.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            if (e.DType == "I64")
            {
                long[] longs = MemoryMarshal.Cast<float, long>(data).ToArray();
                if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(longs, longs);
                data = longs.Select(v => (float)v).ToArray();
            }
            else if (!BitConverter.IsLittleEndian) ReverseEndianness(data, TensorDataType.Float32);
            result.Add(e.Name, (e.Shape.Select(d => (int)d).ToArray(), data));
        }
        return result;
    }

    /// <summary>A tensor of the checkpoint: a parameter, or a buffer (<see cref="IModel.BufferTensors"/>).</summary>
    private readonly record struct Slot(TensorInfo Info, bool IsBuffer);

    /// <summary>Checks the model's own tensor tables: unique names, each tensor inside its arena.</summary>
    private static Slot[] CheckLayout(IModel model)
    {
        Slot[] tensors = model.Tensors.ToArray().Select(t => new Slot(t, false))
            .Concat(model.BufferTensors.ToArray().Select(t => new Slot(t, true))).ToArray();
        int parameters = model.Parameters.Length, buffers = model.Buffers.Length;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach ((TensorInfo t, bool isBuffer) in tensors)
        {
            if (string.IsNullOrEmpty(t.Name) || t.Name == "__metadata__" || !names.Add(t.Name))
                throw new InvalidOperationException($"{model.GetType().Name} has an empty, reserved or repeated tensor name \"{t.Name}\".");
            int arena = isBuffer ? buffers : parameters;
            if (t.Offset < 0 || t.Shape.Any(d => d < 0) || (long)t.Offset + t.Floats > arena)
                throw new InvalidOperationException(
                    $"{model.GetType().Name}'s tensor {t.Name} (offset {t.Offset}, shape {Format(t.Shape)}) does not fit its {arena}-float " +
                    $"{(isBuffer ? "buffer" : "parameter")} arena.");
        }
        return tensors;
    }

    private static string DType(TensorDataType type) => type == TensorDataType.Int64 ? "I64" : "F32";

    /// <summary>Pairs each model tensor with its file entry, checking names, dtypes and shapes.</summary>
    private static SafetensorsEntry[] Match(SafetensorsHeader header, Slot[] slots, IModel model, string path)
    {
        TensorInfo[] tensors = slots.Select(s => s.Info).ToArray();
        var byName = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        var expected = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        string[] missing = tensors.Where(t => !byName.ContainsKey(t.Name)).Select(t => t.Name).ToArray();
        string[] unexpected = header.Entries.Where(e => !expected.Contains(e.Name)).Select(e => e.Name).ToArray();
        if (missing.Length > 0 || unexpected.Length > 0)
        {
            var parts = new List<string>();
            if (missing.Length > 0) parts.Add($"missing tensors: {string.Join(", ", missing)}");
            if (unexpected.Length > 0) parts.Add($"unexpected tensors: {string.Join(", ", unexpected)}");
            throw new InvalidDataException(
                $"{path} does not match {model.GetType().Name} ({string.Join("; ", parts)}). Loading is strict: the file must hold exactly the model's tensors.");
        }

        var entries = new SafetensorsEntry[tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            TensorInfo t = tensors[i];
            SafetensorsEntry e = byName[t.Name];
            if (e.DType != DType(t.DataType))
                throw new InvalidDataException($"{t.Name} in {path} has dtype {e.DType}, but the model needs {DType(t.DataType)}.");
            if (!e.Shape.AsSpan().SequenceEqual(t.Shape.Select(d => (long)d).ToArray()))
                throw new InvalidDataException(
                    $"{t.Name} in {path} has shape {SafetensorsHeader.FormatShape(e.Shape)}, but the model expects {Format(t.Shape)}.");
            entries[i] = e;
        }
        return entries;
    }

    // {"__metadata__":{"format":"pt","model":"<type>"},"<name>":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},...}
    // padded with spaces to a multiple of 8 bytes.
    private static byte[] BuildHeader(Slot[] tensors, string modelName) => SafetensorsHeader.Write(
        [("format", "pt"), ("model", modelName)],
        tensors.Select(slot => (slot.Info.Name, DType(slot.Info.DataType), (IReadOnlyList<int>)slot.Info.Shape, (long)slot.Info.Floats * sizeof(float))));

    private static void WriteData(Stream stream, IModel model, Slot[] tensors)
    {
        ReadOnlySpan<float> parameters = model.Parameters, buffers = model.Buffers;
        foreach ((TensorInfo t, bool isBuffer) in tensors)
        {
            ReadOnlySpan<float> values = (isBuffer ? buffers : parameters).Slice(t.Offset, t.Floats);
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(values));
                continue;
            }
            float[] swapped = values.ToArray();
            ReverseEndianness(swapped, t.DataType);
            stream.Write(MemoryMarshal.AsBytes(swapped.AsSpan()));
        }
    }

    private static void ReverseEndianness(Span<float> values, TensorDataType type)
    {
        if (type == TensorDataType.Int64)
        {
            Span<long> longs = MemoryMarshal.Cast<float, long>(values);
            BinaryPrimitives.ReverseEndianness(longs, longs);
            return;
        }
        Span<int> bits = MemoryMarshal.Cast<float, int>(values);
        BinaryPrimitives.ReverseEndianness(bits, bits);
    }

    private static string Format(ImmutableArray<int> shape) => "[" + string.Join(", ", shape) + "]";
}
