using System.Globalization;
using System.Linq;
using System.Text;
using Compiled.Generator.Model;
using Microsoft.CodeAnalysis.CSharp;

namespace Compiled.Generator;

/// <summary>How layers are named: in checkpoints (PyTorch style) and in generated code (identifiers).</summary>
internal static class Naming
{
    /// <summary>The checkpoint prefix: the layer's Name, or PyTorch's <c>layers.N</c>.</summary>
    public static string LayerName(LayerSpec layer) => layer.Name ?? "layers." + layer.Index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Why a user-given name cannot be used, or null when it can.</summary>
    public static string? NameProblem(string name)
    {
        if (name.Length == 0) return "is empty; give the layer a name such as \"encoder\", or leave Name out";
        if (!(char.IsLetter(name[0]) || name[0] == '_'))
            return "must start with a letter or '_'";
        foreach (char c in name)
            if (!(c < 128 && (char.IsLetterOrDigit(c) || c == '_' || c == '.')))
                return $"contains '{c}'; use ASCII letters, digits, '_' and '.' only";
        if (name.EndsWith(".", System.StringComparison.Ordinal) || name.Contains(".."))
            return "has an empty part between dots";
        return null;
    }

    /// <summary>A camelCase identifier for a layer name: <c>layers.0</c> → <c>layers0</c>.</summary>
    public static string Identifier(string name)
    {
        var builder = new StringBuilder(name.Length);
        bool upper = false;
        foreach (char c in name)
        {
            if (c == '.' || c == '_') { upper = builder.Length > 0; continue; }
            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        if (builder.Length == 0 || char.IsDigit(builder[0])) builder.Insert(0, '_');
        builder[0] = char.ToLowerInvariant(builder[0]);
        return builder.ToString();
    }

    /// <summary>A PascalCase identifier: <c>layers.0</c> → <c>Layers0</c>.</summary>
    public static string Pascal(string name)
    {
        string id = Identifier(name);
        return id[0] == '_' ? id : char.ToUpperInvariant(id[0]) + id.Substring(1);
    }

    /// <summary>
    /// An identifier as C# source writes it: <c>@class</c> for a keyword, and <c>@record</c> for a contextual one (which
    /// some positions would read as the keyword); any other name as it is.
    /// </summary>
    public static string Escape(string identifier)
        => SyntaxFacts.GetKeywordKind(identifier) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(identifier) != SyntaxKind.None
            ? "@" + identifier : identifier;

    /// <summary>
    /// A type's name as a declaration writes it: <see cref="Escape"/>, and <c>@net</c> for a name of lower-case ASCII letters
    /// only, for which the compiler warns (CS8981) at every declaration not written verbatim, the generated ones included.
    /// </summary>
    public static string EscapeType(string name)
    {
        string escaped = Escape(name);
        return escaped[0] != '@' && name.All(c => c >= 'a' && c <= 'z') ? "@" + name : escaped;
    }

    /// <summary>A dotted namespace with each part escaped: <c>@class.Models</c>.</summary>
    public static string EscapeNamespace(string dotted) => string.Join(".", dotted.Split('.').Select(Escape));

    /// <summary>A float literal that round-trips, in the invariant culture.</summary>
    public static string Float(double value)
    {
        string s = ((float)value).ToString("R", CultureInfo.InvariantCulture);
        if (s.IndexOfAny(new[] { '.', 'E', 'e' }) < 0) s += ".0";
        return s + "f";
    }

    public static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
