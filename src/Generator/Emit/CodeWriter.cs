using System;
using System.Text;

namespace Compiled.Generator.Emit;

/// <summary>An indented text writer for generated C#. Lines end in '\n' on every machine.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _builder.Append(' ', _indent * 4).Append(text);
        _builder.Append('\n');
        return this;
    }

    /// <summary>Writes another writer's text line by line at this writer's indentation (blank text writes nothing).</summary>
    public CodeWriter Append(string text)
    {
        if (text.Length == 0) return this;
        foreach (string line in text.TrimEnd('\n').Split('\n')) Line(line);
        return this;
    }

    /// <summary>Writes <c>{</c>, indents, and returns a scope that closes with <c>}</c> (plus <paramref name="suffix"/>).</summary>
    public Scope Block(string? header = null, string suffix = "")
    {
        if (header is not null) Line(header);
        Line("{");
        _indent++;
        return new Scope(this, suffix);
    }

    public readonly struct Scope : IDisposable
    {
        private readonly CodeWriter _writer;
        private readonly string _suffix;

        public Scope(CodeWriter writer, string suffix)
        {
            _writer = writer;
            _suffix = suffix;
        }

        public void Dispose()
        {
            _writer._indent--;
            _writer.Line("}" + _suffix);
        }
    }

    public override string ToString() => _builder.ToString();
}
