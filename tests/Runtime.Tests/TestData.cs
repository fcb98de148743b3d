namespace Compiled.Runtime.Tests;

/// <summary>Finds the shared data sets and the repository's own files from wherever the test executable runs.</summary>
internal static class TestData
{
    private static readonly Lazy<string> s_sharedData = new(() => FindUp(Path.Combine("shared", "data"), Directory.Exists,
        "the shared data folder (CI keeps 'shared' beside the repository checkout, so ../shared/data from the repository root)"));

    /// <summary>The <c>shared/data</c> folder: the nearest one found walking up from the test binaries.</summary>
    public static string SharedData => s_sharedData.Value;

    /// <summary>The real MNIST files (<c>shared/data/mnist</c>).</summary>
    public static string MnistDirectory => Path.Combine(SharedData, "mnist");

    /// <summary>A file of this repository, by its path from the repository root (for checked-in fixtures and scripts).</summary>
    public static string RepoFile(string relativePath) =>
        FindUp(relativePath.Replace('/', Path.DirectorySeparatorChar), File.Exists, $"the repository file {relativePath}");

    private static string FindUp(string relative, Func<string, bool> exists, string what)
    {
        var tried = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (exists(candidate)) return candidate;
            tried.Add(candidate);
        }
        throw new InvalidOperationException($"Could not find {what}. Looked at:{Environment.NewLine}  " +
            string.Join(Environment.NewLine + "  ", tried));
    }
}

/// <summary>A fresh empty directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "compiled-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
