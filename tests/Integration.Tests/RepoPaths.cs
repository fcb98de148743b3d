namespace Compiled.Integration.Tests;

/// <summary>Paths inside the repository, found by walking up from the test binary to Compiled.sln.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The MNIST copy the sample ships with.</summary>
    public static string MnistDirectory => Path.Combine(Root, "samples", "Mnist", "data");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Compiled.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"Compiled.sln not found above {AppContext.BaseDirectory}.");
    }
}
