using System;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Compiled.Generator;

/// <summary>
/// Where a diagnostic's help link points: the README section of its id (<c>README.md#cmp013</c>), in the README that
/// the build names. The package's <c>build/Compiled.targets</c> sets two MSBuild properties, which reach the generator
/// as <c>build_property.*</c> through <c>CompilerVisibleProperty</c>:
/// <list type="bullet">
/// <item><c>CompiledHelpBase</c>: a URL of the README (a package packed with <c>RepositoryUrl</c> from a git clone sets it
/// to <c>$(RepositoryUrl)/blob/$(commit)/README.md</c>; a project may set its own);</item>
/// <item><c>CompiledReadmePath</c>: the README's file on disk (the one inside the package, or this repository's README
/// for projects built in the repository), used as a <c>file://</c> URI when there is no URL.</item>
/// </list>
/// With neither (the generator run outside MSBuild, as in its unit tests) the link is the relative
/// <see cref="DefaultBase"/>. The base is one string per compilation, so it caches like any pipeline value.
/// </summary>
internal static class HelpLinks
{
    /// <summary>The base when the build names no README: the package's README by its file name.</summary>
    public const string DefaultBase = "README.md";

    /// <summary>The MSBuild property with the README's URL.</summary>
    public const string BaseProperty = "build_property.CompiledHelpBase";

    /// <summary>The MSBuild property with the README's path on disk.</summary>
    public const string ReadmePathProperty = "build_property.CompiledReadmePath";

    /// <summary>The help base from the project's options; never throws.</summary>
    public static string Base(AnalyzerConfigOptions options)
    {
        try
        {
            if (options.TryGetValue(BaseProperty, out string? url) && !string.IsNullOrWhiteSpace(url))
                return url.Trim();
            if (options.TryGetValue(ReadmePathProperty, out string? path) && !string.IsNullOrWhiteSpace(path))
                return FileUri(path.Trim()) ?? DefaultBase;
        }
        catch (Exception)
        {
            // A malformed option must not break the build: fall back to the default link.
        }
        return DefaultBase;
    }

    /// <summary>The <c>file://</c> URI of an absolute path (spaces and other characters escaped), or null.</summary>
    public static string? FileUri(string path)
        => Uri.TryCreate(path, UriKind.Absolute, out Uri? uri) && uri.IsFile ? uri.AbsoluteUri : null;

    /// <summary>The link of diagnostic <paramref name="id"/>: <paramref name="helpBase"/><c>#cmpNNN</c>.</summary>
    public static string For(string helpBase, string id) => helpBase + "#" + id.ToLowerInvariant();
}
