using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Compiled.Integration.Tests.Samples;

/// <summary>
/// Runs a sample as a user would: <c>dotnet samples/X/bin/&lt;configuration&gt;/net10.0/X.dll args</c> (the test
/// project builds the samples first through project references that reference no assembly).
/// </summary>
internal static class SampleProcess
{
    /// <summary>The build configuration of this test assembly, and so of the samples built with it.</summary>
    private static string Configuration { get; } =
        typeof(SampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    /// <summary>The built sample's entry assembly.</summary>
    public static string Dll(string sample) => Path.Combine(RepoPaths.Root, "samples", sample, "bin", Configuration, "net10.0", sample + ".dll");

    /// <summary>Runs <paramref name="sample"/> with <paramref name="args"/> in <paramref name="directory"/>; returns its exit code and outputs.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> Run(string sample, string directory, params string[] args)
    {
        string dll = Dll(sample);
        Assert.True(File.Exists(dll), $"The sample is not built: {dll}");
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (string arg in args) info.ArgumentList.Add(arg);
        info.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet.");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        process.WaitForExit(); // drains the output readers
        lock (output) lock (error) return (process.ExitCode, output.ToString(), error.ToString());
    }
}
