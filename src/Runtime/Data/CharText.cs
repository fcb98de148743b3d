using System.IO.Compression;
using System.Text;

namespace Compiled;

/// <summary>
/// A text corpus for character-level language models (char-rnn's setup): the vocabulary is the sorted set of distinct
/// characters of the whole text, each character's id its index in it; the first 90% of the text trains and the last 10%
/// validates; <see cref="Windows"/> cuts a text into samples of T input ids and the T ids that follow each (the text
/// shifted by one), ready for a model with <c>[Input(T)] [Embedding(vocabulary, ...)] ... [Loss(SparseCategoricalCrossEntropy)]</c>.
/// </summary>
public sealed class CharText
{
    private readonly Dictionary<char, int> _ids;

    /// <summary>Splits <paramref name="text"/> and builds its vocabulary.</summary>
    /// <param name="text">The whole corpus (at least 2 characters).</param>
    /// <param name="validationFraction">The fraction at the end of the text kept for validation, in [0, 1); char-rnn's 0.1.</param>
    /// <exception cref="ArgumentException">The text is shorter than 2 characters, or the fraction is out of range.</exception>
    public CharText(string text, double validationFraction = 0.1)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length < 2) throw new ArgumentException($"The text holds {text.Length} characters; a language model needs at least 2.", nameof(text));
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        char[] vocabulary = text.Distinct().Order().ToArray();
        Vocabulary = new string(vocabulary);
        _ids = new Dictionary<char, int>(vocabulary.Length);
        for (int i = 0; i < vocabulary.Length; i++) _ids[vocabulary[i]] = i;
        int split = text.Length - (int)Math.Round(text.Length * validationFraction);
        Train = text.Substring(0, split);
        Validation = text.Substring(split);
    }

    /// <summary>Reads a UTF-8 text file, gzip-compressed or not (told apart by gzip's signature, whatever the file's name).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names the full path).</exception>
    /// <exception cref="InvalidDataException">The file is not valid gzip or UTF-8 (the message names the path).</exception>
    public static CharText Load(string path, double validationFraction = 0.1)
    {
        using FileStream file = DataFile.OpenRead(path, "text");
        Span<byte> start = stackalloc byte[2];
        int read = file.Read(start);
        file.Position = 0;
        bool gzip = DataFile.HasGzipSignature(start.Slice(0, read));
        string text;
        try
        {
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is InvalidDataException or DecoderFallbackException)
        {
            throw new InvalidDataException($"The text file '{Path.GetFullPath(path)}' is not valid {(gzip ? "gzip-compressed " : "")}UTF-8 text: {e.Message}", e);
        }
        return new CharText(text, validationFraction);
    }

    /// <summary>The distinct characters of the text, sorted by code: character <c>Vocabulary[id]</c> has that id.</summary>
    public string Vocabulary { get; }

    /// <summary>The number of distinct characters (the Embedding's vocabulary and the output classes).</summary>
    public int VocabularySize => Vocabulary.Length;

    /// <summary>The first part of the text, for training.</summary>
    public string Train { get; }

    /// <summary>The last part of the text, for validation.</summary>
    public string Validation { get; }

    /// <summary>The id of <paramref name="c"/>.</summary>
    /// <exception cref="ArgumentException">The character is not in the vocabulary.</exception>
    public int Id(char c) => _ids.TryGetValue(c, out int id) ? id
        : throw new ArgumentException($"The character {Show(c)} is not in the vocabulary of {VocabularySize} characters.", nameof(c));

    /// <summary>The ids of <paramref name="text"/>, as floats (a model's input).</summary>
    /// <exception cref="ArgumentException">A character is not in the vocabulary (the message names its position).</exception>
    public float[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new float[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i], out int id))
                throw new ArgumentException(
                    $"text has the character {Show(text[i])} at position {i}, which is not in the vocabulary of {VocabularySize} characters.", nameof(text));
            ids[i] = id;
        }
        return ids;
    }

    /// <summary>The text of <paramref name="ids"/> (whole numbers in [0, <see cref="VocabularySize"/>)).</summary>
    /// <exception cref="ArgumentException">An id is not a character's (the message names its position).</exception>
    public string Decode(ReadOnlySpan<float> ids)
    {
        var builder = new StringBuilder(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            float id = ids[i];
            if (!(id >= 0 && id < VocabularySize && MathF.Floor(id) == id))
                throw new ArgumentException(
                    $"ids holds {FloatChecks.Describe(id)} at position {i}, which is not a character id in [0, {VocabularySize - 1}].", nameof(ids));
            builder.Append(Vocabulary[(int)id]);
        }
        return builder.ToString();
    }

    /// <summary>
    /// Samples of <paramref name="steps"/> + 1 consecutive characters of <paramref name="text"/>, starting every
    /// <paramref name="stride"/> characters (the default, <paramref name="steps"/>, cuts the text into disjoint
    /// windows as char-rnn does): features are the first T ids, targets the T ids after each of them.
    /// </summary>
    /// <param name="text">Usually <see cref="Train"/> or <see cref="Validation"/>; every character must be in the vocabulary.</param>
    /// <param name="steps">T, the model's input length.</param>
    /// <param name="stride">Characters between the starts of two samples; 0 means <paramref name="steps"/>.</param>
    /// <exception cref="ArgumentException">The text is too short for one sample, or holds a character outside the vocabulary.</exception>
    public Dataset Windows(string text, int steps, int stride = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(stride);
        if (stride == 0) stride = steps;
        if (text.Length < steps + 1)
            throw new ArgumentException($"text holds {text.Length} characters; a sample of {steps} steps needs {steps + 1}.", nameof(text));
        float[] ids = Encode(text);
        int count = (text.Length - steps - 1) / stride + 1;
        var features = new float[checked(count * steps)];
        var targets = new float[checked(count * steps)];
        for (int n = 0; n < count; n++)
        {
            ids.AsSpan(n * stride, steps).CopyTo(features.AsSpan(n * steps, steps));
            ids.AsSpan(n * stride + 1, steps).CopyTo(targets.AsSpan(n * steps, steps));
        }
        return new Dataset(features, targets, steps, steps, owned: true);
    }

    private static string Show(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}' (U+{(int)c:X4})";
}
