using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Compiled;

/// <summary>Writes a file so that readers see either the old content or the complete new content, never a torn file.</summary>
/// <remarks>
/// The temporary file is <c>.{name}.{guid}-{pid}.tmp</c> beside the target. A writer killed midway leaves one behind;
/// the next write of the same target removes every such file whose writer process is gone (or, for names without a
/// process id, as older versions wrote them, that is older than <see cref="StaleAge"/>).
/// </remarks>
internal static class AtomicFile
{
    /// <summary>How old a temporary file without a writer process id must be before a later write removes it.</summary>
    public static readonly TimeSpan StaleAge = TimeSpan.FromMinutes(1);

    /// <summary>The temporary files this process is writing now (they are never stale, whatever their age).</summary>
    private static readonly ConcurrentDictionary<string, byte> s_inFlight = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes through <paramref name="write"/> to a temporary file in the target's directory, flushes it to disk,
    /// then renames it over <paramref name="path"/>. If anything fails, the temporary file is deleted, and any
    /// existing file at <paramref name="path"/> is left as it was. File-system failures come out as
    /// <see cref="IOException"/> (<see cref="DirectoryNotFoundException"/> when the directory is missing) with a
    /// message naming <paramref name="path"/>, the original exception inside; a denied permission
    /// (<see cref="UnauthorizedAccessException"/>) is wrapped the same way. Other exceptions from
    /// <paramref name="write"/> propagate unchanged.
    /// </summary>
    public static void Write(string path, Action<FileStream> write)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new IOException($"Cannot write '{full}': it has no directory.");
        string name = Path.GetFileName(full);
        if (name.Length == 0) throw new IOException($"Cannot write '{full}': the path names a directory, not a file.");
        RemoveStale(directory, name);
        string temp = Path.Combine(directory, $".{name}.{Guid.NewGuid():N}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp");
        s_inFlight.TryAdd(temp, 0);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw Wrap(ex, full, temp);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            s_inFlight.TryRemove(temp, out _);
        }
    }

    /// <summary>The documented exception type, naming the user's path (not the temporary file), the cause inside.</summary>
    private static IOException Wrap(Exception ex, string full, string temp)
    {
        string reason = ex.Message.Replace(temp, full, StringComparison.Ordinal);
        if (ex is UnauthorizedAccessException)
            reason = $"permission denied ({reason}); the directory '{Path.GetDirectoryName(full)}' must be writable, because the file is written beside it first and renamed";
        string message = $"Cannot write '{full}': {reason}";
        return ex switch
        {
            DirectoryNotFoundException => new DirectoryNotFoundException(message, ex),
            _ => new IOException(message, ex),
        };
    }

    /// <summary>Removes temporary files of earlier writes of <paramref name="name"/> whose writer is gone.</summary>
    private static void RemoveStale(string directory, string name)
    {
        string prefix = "." + name + ".";
        IEnumerable<string> candidates;
        try
        {
            if (!Directory.Exists(directory)) return;
            candidates = Directory.EnumerateFiles(directory, "." + name + ".*.tmp", new EnumerationOptions
            {
                MatchCasing = MatchCasing.CaseSensitive,
                AttributesToSkip = 0,
                IgnoreInaccessible = true,
                MatchType = MatchType.Simple,
            }).ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return; // Cleaning up is a courtesy; the write itself reports real problems.
        }
        foreach (string candidate in candidates)
        {
            string file = Path.GetFileName(candidate);
            if (!file.StartsWith(prefix, StringComparison.Ordinal) || !file.EndsWith(".tmp", StringComparison.Ordinal)) continue;
            string middle = file[prefix.Length..^".tmp".Length];
            if (IsStale(candidate, middle)) TryDelete(candidate);
        }
    }

    /// <summary>
    /// Whether <paramref name="middle"/> (the part between <c>.name.</c> and <c>.tmp</c>) is one of our temporary names,
    /// "{guid}-{pid}" or the older "{guid}", and its writer is gone.
    /// </summary>
    internal static bool IsStale(string file, string middle)
    {
        if (middle.Length < 32 || !IsHex(middle.AsSpan(0, 32))) return false;
        if (s_inFlight.ContainsKey(file)) return false;
        if (middle.Length == 32) return IsOld(file);
        if (middle[32] != '-' || !int.TryParse(middle.AsSpan(33), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) return false;
        if (pid == Environment.ProcessId) return true; // ours, but not in flight: left by a write that was torn down
        return !IsRunning(pid);
    }

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    private static bool IsOld(string file)
    {
        try
        {
            return DateTime.UtcNow - File.GetLastWriteTimeUtc(file) > StaleAge;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return true; // cannot tell: keep the file
        }
    }

    private static void TryDelete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (IOException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
