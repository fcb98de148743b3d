using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Compiled.Benchmarks;

/// <summary>Thrown when the PyTorch peer cannot be started; the message says what to install.</summary>
internal sealed class PeerUnavailableException(string message) : Exception(message);

/// <summary>
/// The PyTorch side: peer.py, started once and kept alive, answering "run WORKLOAD N" with the microseconds
/// per iteration it measured itself (so the pipe's latency is not timed).
/// </summary>
internal sealed class Peer : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(10);

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private Peer(Process process) => _process = process;

    /// <summary>What the peer said about itself: torch version and thread settings.</summary>
    public string Banner { get; private set; } = "";

    /// <summary>Starts peer.py with <paramref name="python"/>; torch runs with <paramref name="threads"/> intra-op threads.</summary>
    public static Peer Start(string python, string script, int threads, int blasThreads, string device = "cpu", string coreType = "Cooperlake")
    {
        if (!File.Exists(script)) throw new PeerUnavailableException($"The peer script is missing: {script}");
        var info = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-u");
        info.ArgumentList.Add(script);
        info.Environment["PEER_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        info.Environment["OPENBLAS_NUM_THREADS"] = blasThreads.ToString(CultureInfo.InvariantCulture);
        info.Environment["OPENBLAS_CORETYPE"] = coreType;
        info.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        info.Environment["PEER_DEVICE"] = device;

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new PeerUnavailableException($"Could not start {python}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PeerUnavailableException($"Could not start '{python}': {e.Message}.");
        }

        var peer = new Peer(process);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (peer._stderr) peer._stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        string? first = peer.ReadLine(StartTimeout);
        if (first is null || !first.StartsWith("ready ", StringComparison.Ordinal))
        {
            string why = peer.StderrTail();
            peer.Dispose();
            throw new PeerUnavailableException(
                $"'{python} {script}' did not start (said: {first ?? "nothing"}).{Environment.NewLine}{why}");
        }
        peer.Banner = first["ready ".Length..];
        return peer;
    }

    /// <summary>Runs <paramref name="workload"/> <paramref name="iterations"/> times; returns µs per iteration and the last loss.</summary>
    public (double Microseconds, float Loss) Run(string workload, int iterations)
    {
        _process.StandardInput.WriteLine($"run {workload} {iterations.ToString(CultureInfo.InvariantCulture)}");
        _process.StandardInput.Flush();
        string? line = ReadLine(RunTimeout);
        if (line is null) throw new InvalidOperationException($"The peer stopped answering.{Environment.NewLine}{StderrTail()}");
        string[] parts = line.Split(' ', 3);
        if (parts[0] != "ok" || parts.Length != 3)
            throw new InvalidOperationException($"The peer failed on '{workload}': {line}");
        return (double.Parse(parts[1], CultureInfo.InvariantCulture), float.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(5000)) _process.Kill();
            }
        }
        catch (IOException)
        {
            // The pipe is already closed: the peer has exited.
        }
        _process.Dispose();
    }

    private string? ReadLine(TimeSpan timeout)
    {
        Task<string?> read = _process.StandardOutput.ReadLineAsync();
        if (!read.Wait(timeout)) throw new TimeoutException($"The peer did not answer within {timeout.TotalSeconds:0} s.");
        return read.Result;
    }

    private string StderrTail()
    {
        // Give the stderr reader a moment to drain after the process exits.
        _process.WaitForExit(2000);
        lock (_stderr)
        {
            string text = _stderr.ToString().TrimEnd();
            return text.Length <= 2000 ? text : "…" + text[^2000..];
        }
    }
}
