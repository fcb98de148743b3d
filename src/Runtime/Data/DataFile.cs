using System.IO.Compression;
using System.Runtime.InteropServices;

namespace Compiled;

/// <summary>File plumbing shared by the data set readers: existence checks, gzip sniffing, full reads with clear errors.</summary>
internal static partial class DataFile
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
        RequireRegularFile(path, what);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
    }

    /// <summary>
    /// Throws <see cref="IOException"/> when <paramref name="path"/> (an existing path, not a directory) is a FIFO, socket or
    /// device rather than a regular file. Checked before opening, because opening a FIFO for reading blocks until another
    /// process opens it for writing. On Linux the type comes from <c>statx</c>; elsewhere (or where it is unavailable) a
    /// path that reports a length of 0 is opened only after this check passes, and the readers refuse empty files anyway.
    /// </summary>
    public static void RequireRegularFile(string path, string what)
    {
        string? kind = NonRegularKind(path);
        if (kind is not null)
            throw new IOException(
                $"The {what} path '{Path.GetFullPath(path)}' is {kind}, not a regular file; reading it could block or never end. Give the path of a file.");
    }

    /// <summary>"a FIFO (named pipe)", "a socket", ... for a non-regular file; null for a regular file or when unknown.</summary>
    internal static string? NonRegularKind(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        const int AtFdCwd = -100, StatxType = 0x1;
        const ushort TypeMask = 0xF000;
        Span<byte> buffer = stackalloc byte[256]; // struct statx; stx_mode is the u16 at offset 28 on every architecture
        int rc;
        try
        {
            rc = Statx(AtFdCwd, path, 0, StatxType, ref MemoryMarshal.GetReference(buffer));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        if (rc != 0) return null; // the open that follows reports the real error
        ushort type = (ushort)(BitConverter.ToUInt16(buffer[28..]) & TypeMask);
        return type switch
        {
            0x8000 => null,            // S_IFREG
            0x4000 => "a directory",   // S_IFDIR
            0x1000 => "a FIFO (named pipe)",
            0xC000 => "a socket",
            0x2000 => "a character device",
            0x6000 => "a block device",
            _ => null,
        };
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = false)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, ref byte buffer);

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
