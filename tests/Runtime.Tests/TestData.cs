namespace Compiled.Runtime.Tests;

/// <summary>
/// Finds the data the tests read, all inside the repository (no folder beside the checkout is needed): the MNIST
/// copy the sample ships in <c>samples/Mnist/data</c> and the small tables in <c>tests/Runtime.Tests/TestData</c>
/// (checksums in that folder's README).
/// </summary>
internal static class TestData
{
    /// <summary>The real MNIST files, the four official <c>.gz</c> files shipped with the sample.</summary>
    public static string MnistDirectory => Path.GetDirectoryName(RepoFile("samples/Mnist/data/t10k-labels-idx1-ubyte.gz"))!;

    /// <summary>A table shipped in <c>tests/Runtime.Tests/TestData</c> (for example <c>iris.csv</c>).</summary>
    public static string Table(string name) => RepoFile("tests/Runtime.Tests/TestData/" + name);

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
