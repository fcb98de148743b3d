using System.IO.Compression;

namespace Compiled;

/// <summary>File plumbing shared by the data set readers: existence checks, gzip sniffing, full reads with clear errors.</summary>
internal static class DataFile
{
    /// <summary>The first two bytes of every gzip file (RFC 1952).</summary>
    public static bool HasGzipSignature(ReadOnlySpan<byte> start) => start.Length >= 2 && start[0] == 0x1F && start[1] == 0x8B;

    public static bool HasGzipExtension(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens an existing file for reading, or throws <see cref="FileNotFoundException"/> naming the full path.</summary>
    public static FileStream OpenRead(string path, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The {what} file '{Path.GetFullPath(path)}' does not exist.", path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; turns a gzip failure into a message naming the file.</summary>
    public static int ReadFully(Stream source, Span<byte> buffer, string path)
    {
        try
        {
            return source.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException ex) when (source is GZipStream)
        {
            throw CorruptGzip(path, ex);
        }
    }

    /// <summary>Reads the stream to its end and returns how many bytes were left (up to a cap, so a gzip bomb cannot stall us).</summary>
    public static long CountRemaining(Stream source, string path, long cap = 1L << 30)
    {
        byte[] scratch = new byte[1 << 16];
        long total = 0;
        try
        {
            int n;
            while (total < cap && (n = source.Read(scratch)) > 0) total += n;
        }
        catch (InvalidDataException ex) when (source is GZipStream)
        {
            throw CorruptGzip(path, ex);
        }
        return total;
    }

    public static InvalidDataException CorruptGzip(string path, Exception inner) =>
        new($"{path} is not a valid gzip file: decompression failed ({inner.Message}). The download may be corrupt; fetch it again.", inner);

    /// <summary>"1F 8B 08 00" for the bytes given.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return "nothing";
        var text = new System.Text.StringBuilder(bytes.Length * 3);
        foreach (byte b in bytes) text.Append(text.Length == 0 ? "" : " ").Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }

    /// <summary>Finds <paramref name="name"/> or <paramref name="name"/>.gz in <paramref name="directory"/>, preferring the raw file.</summary>
    public static string? FindRawOrGz(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>Throws <see cref="DirectoryNotFoundException"/> when the directory is missing.</summary>
    public static void RequireDirectory(string directory, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"The {what} directory '{Path.GetFullPath(directory)}' does not exist.");
    }
}
