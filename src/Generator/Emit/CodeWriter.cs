using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Compiled.Generator.Emit;

/// <summary>An indented text writer for generated C#. Lines end in '\n' on every machine.</summary>
internal sealed class CodeWriter
{
    /// <summary>Statements longer than this (indentation included) are wrapped at their argument list's commas.</summary>
    public const int MaxLine = 120;

    private readonly StringBuilder _builder = new();
    private int _indent;

    public CodeWriter Line(string text = "")
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.Length > 0) _builder.Append(' ', _indent * 4).Append(line);
            _builder.Append('\n');
        }
        return this;
    }

    /// <summary>Writes each line of <paramref name="text"/> as a <c>//</c> comment.</summary>
    public CodeWriter Comment(string text)
    {
        foreach (string line in text.Split('\n')) Line("// " + line);
        return this;
    }

    /// <summary>
    /// Writes a statement, wrapped at the top-level commas of its outermost argument list when it would pass
    /// <see cref="MaxLine"/> columns (continuation lines indented once more).
    /// </summary>
    public CodeWriter Statement(string text)
    {
        int width = _indent * 4 + text.Length;
        int open = text.IndexOf('(');
        if (width <= MaxLine || open < 0)
        {
            Line(text);
            return this;
        }
        // Split the outermost argument list: head( a, b, c ) tail
        var parts = new List<string>();
        int depth = 0, start = open + 1, close = -1;
        for (int i = open; i < text.Length && close < 0; i++)
        {
            char c = text[i];
            if (c is '(' or '<' or '[') depth++;
            else if (c is ')' or '>' or ']')
            {
                depth--;
                if (depth == 0 && c == ')') { parts.Add(text.Substring(start, i - start).Trim()); close = i; }
            }
            else if (c == ',' && depth == 1)
            {
                parts.Add(text.Substring(start, i - start).Trim());
                start = i + 1;
            }
        }
        if (close < 0)
        {
            Line(text);
            return this;
        }
        string head = text.Substring(0, open + 1), tail = text.Substring(close);
        int limit = MaxLine - _indent * 4;
        // Prefer to break before the sizes, which start at the argument "batch" (kernel calls end with their sizes).
        int sizes = parts.FindIndex(p => p == "batch" || p.StartsWith("batch ", StringComparison.Ordinal));
        if (sizes > 0)
        {
            string first = head + string.Join(", ", parts.Take(sizes)) + ",";
            string rest = "    " + string.Join(", ", parts.Skip(sizes)) + tail;
            if (first.Length <= limit && rest.Length <= limit)
            {
                Line(first);
                Line(rest);
                return this;
            }
        }
        var line = new StringBuilder(head);
        bool empty = true;
        for (int i = 0; i < parts.Count; i++)
        {
            string piece = parts[i] + (i < parts.Count - 1 ? "," : tail);
            int pad = empty ? 0 : 1;
            if (line.Length + pad + piece.Length > limit && line.Length > 4)
            {
                Line(line.ToString());
                line.Clear().Append("    ");
                empty = true;
                pad = 0;
            }
            if (!empty) line.Append(' ');
            line.Append(piece);
            empty = false;
        }
        Line(line.ToString());
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
