using System.Diagnostics;
using System.Runtime.Versioning;
using Xunit;
using static Compiled.Runtime.Tests.Checkpoints.SafetensorsFiles;

namespace Compiled.Runtime.Tests.Checkpoints;

/// <summary>
/// Checkpoints that must not load silently or hang (NaN, directories, FIFOs), and saves that must clean up after a
/// killed writer and report the user's path with the documented exception type.
/// </summary>
[SupportedOSPlatform("linux")] // FIFOs, Unix file modes, chattr, bash
public sealed class CheckpointRobustnessTests
{
    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void A_non_finite_parameter_is_refused_naming_the_file_tensor_index_and_value(float bad, string shown)
    {
        using var dir = new TempDirectory();
        string path = dir.File("diverged.safetensors");
        var saved = new TinyMlp(seed: 1);
        saved.Parameters[12 + 2] = bad; // layers.0.bias[2]: the weight [3, 4] takes the first 12 floats
        saved.Save(path);

        var model = new TinyMlp(seed: 2);
        CheckpointTests.AssertLoadFails(model, path,
            $"layers.0.bias in {path} holds {shown} at index 2 (shape [3]); a model with a non-finite parameter predicts NaN.");
        Assert.Throws<InvalidDataException>(() => TinyMlp.Load(path));

        // The documented opt-out loads it bit for bit.
        model.LoadWeights(path, allowNonFinite: true);
        Assert.Equal(Bits(saved.Parameters), Bits(model.Parameters));
    }

    [Fact]
    public void A_directory_is_not_reported_as_missing()
    {
        using var dir = new TempDirectory();
        string path = Directory.CreateDirectory(dir.File("model.safetensors")).FullName;
        var model = new TinyMlp(seed: 1);
        int[] before = Bits(model.Parameters);

        var ex = Assert.Throws<IOException>(() => model.LoadWeights(path));
        Assert.Equal($"The checkpoint path '{path}' is a directory, not a file. Give the path of a .safetensors file.", ex.Message);
        Assert.Equal(before, Bits(model.Parameters));
    }

    [Fact]
    public async Task A_fifo_is_refused_without_opening_it()
    {
        using var dir = new TempDirectory();
        string path = dir.File("pipe.safetensors");
        MakeFifo(path);
        var model = new TinyMlp(seed: 1);

        // Opening a FIFO for reading blocks until a writer appears: run each read where a hang cannot stall the suite.
        var ex = Assert.IsType<IOException>(await Within(() => model.LoadWeights(path)));
        Assert.Contains($"'{path}' is a FIFO (named pipe), not a regular file", ex.Message);
        Assert.Contains("is a FIFO (named pipe)", Assert.IsType<IOException>(await Within(() => Mnist.ReadLabels(path))).Message);
        Assert.Contains("is a FIFO (named pipe)", Assert.IsType<IOException>(await Within(() => Cifar10.Read(path))).Message);
    }

    /// <summary>The exception <paramref name="action"/> throws, failing the test if it takes more than 20 seconds.</summary>
    private static async Task<Exception?> Within(Action action)
    {
        Task<Exception?> run = Task.Run(() => Record.Exception(action), TestContext.Current.CancellationToken);
        Task done = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
        Assert.True(done == run, "The read hung.");
        return await run;
    }

    [Fact]
    public void A_save_removes_the_temporary_files_of_killed_saves_of_the_same_path_only()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        int dead = DeadProcessId();
        using Process alive = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            string guid() => Guid.NewGuid().ToString("N");
            byte[] partial = new byte[4096];
            // What a killed save leaves: the full-size hidden temporary file, named with the writer's process id.
            string killed = dir.File($".model.safetensors.{guid()}-{dead}.tmp");
            // One from this process that is not being written any more (a torn-down write).
            string ours = dir.File($".model.safetensors.{guid()}-{Environment.ProcessId}.tmp");
            // Older versions named it without a process id: removed once older than a minute, kept while fresh.
            string oldLegacy = dir.File($".model.safetensors.{guid()}.tmp");
            string freshLegacy = dir.File($".model.safetensors.{guid()}.tmp");
            // Kept: a save still running in another process, another target's file, and files that are not ours.
            string running = dir.File($".model.safetensors.{guid()}-{alive.Id}.tmp");
            string otherTarget = dir.File($".other.safetensors.{guid()}-{dead}.tmp");
            string lookalike = dir.File(".model.safetensors.notes.tmp");
            foreach (string f in new[] { killed, ours, oldLegacy, freshLegacy, running, otherTarget, lookalike })
                File.WriteAllBytes(f, partial);
            File.SetLastWriteTimeUtc(oldLegacy, DateTime.UtcNow - TimeSpan.FromMinutes(5));

            new TinyMlp(seed: 1).Save(path);

            string[] left = Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
            string[] expected = new[] { path, freshLegacy, running, otherTarget, lookalike }
                .Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
            Assert.Equal(expected, left);
            Assert.Equal(Bits(new TinyMlp(seed: 1).Parameters), Bits(TinyMlp.Load(path).Parameters));
        }
        finally
        {
            alive.Kill();
            alive.WaitForExit();
        }
    }

    [Fact]
    public void A_save_killed_midway_in_a_child_process_is_cleaned_up_by_the_next_save()
    {
        // A real kill: a child process holds the same kind of hidden temporary file open while "writing", and dies by SIGKILL.
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        using Process child = Process.Start(new ProcessStartInfo("bash",
            ["-c", "f=\".model.safetensors.$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')-$$.tmp\"; head -c 100000 /dev/zero > \"$f\"; echo ready; exec sleep 60"])
        { UseShellExecute = false, RedirectStandardOutput = true, WorkingDirectory = dir.Path })!;
        Assert.Equal("ready", child.StandardOutput.ReadLine());
        string temp = Assert.Single(Directory.GetFiles(dir.Path));
        child.Kill();
        child.WaitForExit();

        new TinyMlp(seed: 1).Save(path);

        Assert.False(File.Exists(temp), $"{temp} was left behind");
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_denied_write_throws_IOException_naming_the_path_not_the_temporary_file()
    {
        using var dir = new TempDirectory();
        string locked = Directory.CreateDirectory(dir.File("locked")).FullName;
        string path = Path.Combine(locked, "model.safetensors");
        using Lock directoryLock = ReadOnly(locked);
        Action save = () => new TinyMlp(seed: 1).Save(path);
        if (!directoryLock.Locked)
        {
            // Root on a file system without the immutable flag: nothing denies root a write, so deny it the way the
            // operating system would, with the exception FileStream throws for EACCES.
            save = () => AtomicFile.Write(path, _ => throw new UnauthorizedAccessException($"Access to the path '{path}.tmp' is denied."));
        }

        var ex = Assert.Throws<IOException>(save);
        Assert.StartsWith($"Cannot write '{path}': permission denied (", ex.Message);
        Assert.Contains($"the directory '{locked}' must be writable", ex.Message);
        Assert.DoesNotContain(".tmp", ex.Message.Replace($"{path}.tmp", "", StringComparison.Ordinal));
        Assert.IsType<UnauthorizedAccessException>(ex.InnerException);
        Assert.Empty(Directory.GetFileSystemEntries(locked));
    }

    [Fact]
    public void A_failing_write_names_the_path_and_keeps_the_cause()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        var ex = Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new UnauthorizedAccessException("Access to the path '/x/.model.tmp' is denied.")));
        Assert.StartsWith($"Cannot write '{path}': permission denied", ex.Message);
        Assert.IsType<UnauthorizedAccessException>(ex.InnerException);
        Assert.Empty(Directory.GetFiles(dir.Path));

        // Not a file-system failure: propagates as it is.
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, _ => throw new InvalidOperationException("bug")));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    /// <summary>Makes <paramref name="directory"/> unwritable until disposed: mode 0555, plus the immutable flag when running as
    /// root (root ignores permission bits). <see cref="Lock.Locked"/> is false where neither works (root without chattr).</summary>
    private static Lock ReadOnly(string directory)
    {
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
            UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        bool immutable = CanWrite(directory) && TryRun("chattr", "+i", directory);
        return new Lock(!CanWrite(directory), () =>
        {
            if (immutable) TryRun("chattr", "-i", directory);
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        });
    }

    private sealed class Lock(bool locked, Action undo) : IDisposable
    {
        public bool Locked => locked;

        public void Dispose() => undo();
    }

    private static bool TryRun(string file, params string[] args)
    {
        try
        {
            using Process p = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardError = true })!;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }

    private static bool CanWrite(string directory)
    {
        string probe = Path.Combine(directory, ".probe");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static void MakeFifo(string path) => Run("mkfifo", path);

    private static void Run(string file, params string[] args)
    {
        using Process p = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardError = true })!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {error}");
    }

    /// <summary>The id of a process that has exited (and, being just reaped, is not reused yet).</summary>
    private static int DeadProcessId()
    {
        using Process p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }
}
