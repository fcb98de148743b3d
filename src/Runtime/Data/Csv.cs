using System.Globalization;

namespace Compiled;

/// <summary>How <see cref="Csv"/> reads a table.</summary>
public sealed class CsvOptions
{
    /// <summary>The cell separator; <c>','</c> by default.</summary>
    public char Separator { get; init; } = ',';

    /// <summary>Lines to skip before the header (or before the data when there is no header), such as a title or the
    /// <c>count,features,class names</c> line of scikit-learn's bundled tables. 0 by default.</summary>
    public int SkipLines { get; init; }

    /// <summary>Whether the first line read holds the column names (true by default). Without a header the columns are
    /// named by <see cref="ColumnNames"/>, or by their zero-based index (<c>"0"</c>, <c>"1"</c>, …) as pandas'
    /// <c>header=None</c> does.</summary>
    public bool HasHeader { get; init; } = true;

    /// <summary>Names for the columns of a file without a header, or null.</summary>
    public IReadOnlyList<string>? ColumnNames { get; init; }
}

/// <summary>
/// Reads numeric CSV tables: a header row of column names (or names given in <see cref="CsvOptions"/>), then one row of
/// numbers per sample, every row as wide as the header. Blank lines are skipped, cells are trimmed, a cell may be quoted
/// (<c>"1.5"</c>). Numbers are read in the invariant culture (<c>1.5e-3</c>, never <c>1,5</c>) and must be finite.
/// Every error names the file, the line and the column.
/// </summary>
/// <example><code>
/// CsvTable table = Csv.Read("houses.csv");
/// var (train, test) = table.Split(testFraction: 0.2, seed: 1);
/// Dataset trainSet = train.ToDataset(target: "price");
/// </code></example>
public static class Csv
{
    /// <summary>Reads the table in <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, a row is ragged, a cell is not a finite number, or a
    /// column name is empty or repeated; the message names the file, line and column.</exception>
    public static CsvTable Read(string path, CsvOptions? options = null)
    {
        using FileStream stream = DataFile.OpenRead(path, "CSV");
        using var reader = new StreamReader(stream);
        return Parse(reader, Path.GetFullPath(path), options);
    }

    /// <summary>Reads a table from <paramref name="reader"/>; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="InvalidDataException">As <see cref="Read"/>.</exception>
    public static CsvTable Parse(TextReader reader, string source, CsvOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        options ??= new CsvOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.SkipLines, nameof(options.SkipLines));
        if (options.Separator is '"' or '\r' or '\n')
            throw new ArgumentException($"'{options.Separator}' cannot separate cells.", nameof(options));

        int line = 0;
        for (int i = 0; i < options.SkipLines; i++, line++)
            if (reader.ReadLine() is null)
                throw new InvalidDataException($"{source} is empty: it ends before the {options.SkipLines} line(s) to skip.");

        var cells = new List<string>();
        string[]? names = null;
        if (options.HasHeader)
        {
            string? header = NextLine(reader, ref line);
            if (header is null) throw new InvalidDataException($"{source} is empty: it has no header row.");
            Split(header, options.Separator, cells, source, line);
            names = cells.ToArray();
            if (options.ColumnNames is { } given)
            {
                if (given.Count != names.Length)
                    throw new InvalidDataException(
                        $"{source} line {line}: the header has {names.Length} columns, but {given.Count} column names were given.");
                names = given.ToArray();
            }
        }
        else if (options.ColumnNames is { } given)
        {
            names = given.ToArray();
        }
        if (names is not null) CheckNames(names, source, line);

        var values = new List<double>();
        int rows = 0;
        while (NextLine(reader, ref line) is { } text)
        {
            Split(text, options.Separator, cells, source, line);
            if (names is null)
            {
                names = new string[cells.Count];
                for (int c = 0; c < names.Length; c++) names[c] = c.ToString(CultureInfo.InvariantCulture);
            }
            if (cells.Count != names.Length)
                throw new InvalidDataException(
                    $"{source} line {line} (data row {rows + 1}) has {cells.Count} cells, but the table has {names.Length} columns" +
                    $" ({Describe(names)}): every row needs one value per column.");
            for (int c = 0; c < cells.Count; c++)
            {
                string cell = cells[c];
                if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                    throw new InvalidDataException(
                        $"{source} line {line} (data row {rows + 1}), column '{names[c]}' (column {c + 1}): " +
                        (cell.Length == 0 ? "the cell is empty" : $"'{Shorten(cell)}' is not a finite number") +
                        "; every cell must be a number such as 1.5 or -2e-3.");
                values.Add(value);
            }
            rows++;
        }
        if (names is null) throw new InvalidDataException($"{source} is empty: it has no rows.");
        if (rows == 0) throw new InvalidDataException($"{source} has a header ({Describe(names)}) but no data rows.");
        return new CsvTable(source, names, values.ToArray(), rows);
    }

    /// <summary>The next line that is not blank (counting every line read in <paramref name="line"/>), or null at the end.</summary>
    private static string? NextLine(TextReader reader, ref int line)
    {
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (!string.IsNullOrWhiteSpace(text)) return text;
        }
        return null;
    }

    /// <summary>Splits one line into trimmed cells; a cell in double quotes may hold the separator and "" for a quote.</summary>
    private static void Split(string text, char separator, List<string> cells, string source, int line)
    {
        cells.Clear();
        int i = 0;
        while (true)
        {
            while (i < text.Length && text[i] is ' ' or '\t' && text[i] != separator) i++;
            if (i < text.Length && text[i] == '"')
            {
                var cell = new System.Text.StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length)
                        throw new InvalidDataException($"{source} line {line}, column {cells.Count + 1}: a quoted cell is not closed.");
                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            cell.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    cell.Append(text[i++]);
                }
                while (i < text.Length && text[i] is ' ' or '\t' && text[i] != separator) i++;
                if (i < text.Length && text[i] != separator)
                    throw new InvalidDataException(
                        $"{source} line {line}, column {cells.Count + 1}: text follows a quoted cell before the next '{separator}'.");
                cells.Add(cell.ToString());
            }
            else
            {
                int end = text.IndexOf(separator, i);
                if (end < 0) end = text.Length;
                cells.Add(text[i..end].Trim());
                i = end;
            }
            if (i >= text.Length) return;
            i++; // the separator
            if (i == text.Length)
            {
                cells.Add("");
                return;
            }
        }
    }

    private static void CheckNames(string[] names, string source, int line)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < names.Length; c++)
        {
            if (names[c].Length == 0)
                throw new InvalidDataException($"{source} line {line}: column {c + 1} has no name; every column needs one.");
            if (!seen.TryAdd(names[c], c))
                throw new InvalidDataException(
                    $"{source} line {line}: columns {seen[names[c]] + 1} and {c + 1} are both named '{names[c]}'; names must be unique.");
        }
    }

    internal static string Describe(IReadOnlyList<string> names)
        => names.Count <= 8 ? string.Join(", ", names) : string.Join(", ", names.Take(6)) + $", … {names[^1]}";

    private static string Shorten(string cell) => cell.Length <= 40 ? cell : cell[..37] + "...";
}

/// <summary>
/// A numeric table read by <see cref="Csv"/>: <see cref="RowCount"/> rows of <see cref="ColumnCount"/> named columns,
/// kept in double precision. Immutable.
/// </summary>
public sealed class CsvTable
{
    private readonly string[] _names;
    private readonly double[] _values;

    internal CsvTable(string source, string[] names, double[] values, int rows)
    {
        Source = source;
        _names = names;
        _values = values;
        RowCount = rows;
    }

    /// <summary>The file (or other source) the table was read from, as error messages name it.</summary>
    public string Source { get; }

    /// <summary>The column names, in file order.</summary>
    public IReadOnlyList<string> ColumnNames => _names;

    /// <summary>The number of data rows.</summary>
    public int RowCount { get; }

    /// <summary>The number of columns.</summary>
    public int ColumnCount => _names.Length;

    /// <summary>The value at <paramref name="row"/> (0-based data row) and <paramref name="column"/>.</summary>
    public double this[int row, int column]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(row);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, RowCount);
            ArgumentOutOfRangeException.ThrowIfNegative(column);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(column, ColumnCount);
            return _values[row * ColumnCount + column];
        }
    }

    /// <summary>The index of the column named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No column has that name; the message names the file and lists the columns.</exception>
    public int ColumnIndex(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int index = Array.IndexOf(_names, name);
        if (index < 0)
            throw new ArgumentException(
                $"{Source} has no column named '{name}'; its columns are {Csv.Describe(_names)}.", nameof(name));
        return index;
    }

    /// <summary>A copy of the column named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No column has that name.</exception>
    public double[] Column(string name)
    {
        int c = ColumnIndex(name);
        var column = new double[RowCount];
        for (int r = 0; r < RowCount; r++) column[r] = _values[r * ColumnCount + c];
        return column;
    }

    /// <summary>
    /// The table as samples for a model: the <paramref name="features"/> columns (every column but the target when none
    /// are named) as features, in that order, and the <paramref name="target"/> column as the single target (a value for
    /// regression, 0/1 for binary cross-entropy, a class index for sparse cross-entropy). Values become floats.
    /// </summary>
    /// <exception cref="ArgumentException">A named column does not exist, the target is also a feature, or a feature is
    /// named twice.</exception>
    public Dataset ToDataset(string target, params string[] features)
    {
        int t = ColumnIndex(target);
        int[] columns;
        if (features is null || features.Length == 0)
        {
            columns = Enumerable.Range(0, ColumnCount).Where(c => c != t).ToArray();
            if (columns.Length == 0)
                throw new ArgumentException($"{Source} has only the target column '{target}': there are no features.", nameof(target));
        }
        else
        {
            columns = features.Select(ColumnIndex).ToArray();
            if (columns.Contains(t))
                throw new ArgumentException($"Column '{target}' of {Source} cannot be both the target and a feature.", nameof(features));
            if (columns.Distinct().Count() != columns.Length)
                throw new ArgumentException($"A feature column of {Source} is named twice in {string.Join(", ", features)}.", nameof(features));
        }
        var x = new float[checked(RowCount * columns.Length)];
        var y = new float[RowCount];
        for (int r = 0; r < RowCount; r++)
        {
            for (int j = 0; j < columns.Length; j++) x[r * columns.Length + j] = (float)_values[r * ColumnCount + columns[j]];
            y[r] = (float)_values[r * ColumnCount + t];
        }
        return new Dataset(x, y, columns.Length, 1, owned: true);
    }

    /// <summary>
    /// Splits the rows at random (seeded: the same seed, the same split) into a training table and a test table holding
    /// <paramref name="testFraction"/> of the rows (rounded, at least one row in each).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="testFraction"/> is not in (0, 1), or the table has
    /// fewer than 2 rows.</exception>
    public (CsvTable Train, CsvTable Test) Split(double testFraction, int seed)
    {
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must be between 0 and 1 (exclusive).");
        if (RowCount < 2)
            throw new ArgumentOutOfRangeException(nameof(testFraction), $"{Source} has {RowCount} row(s); a split needs at least 2.");
        int test = Math.Clamp((int)Math.Round(RowCount * testFraction, MidpointRounding.AwayFromZero), 1, RowCount - 1);
        int[] order = Enumerable.Range(0, RowCount).ToArray();
        new Rng(seed).Shuffle(order);
        return (Rows(order.AsSpan(test)), Rows(order.AsSpan(0, test)));
    }

    private CsvTable Rows(ReadOnlySpan<int> rows)
    {
        var values = new double[rows.Length * ColumnCount];
        for (int i = 0; i < rows.Length; i++)
            _values.AsSpan(rows[i] * ColumnCount, ColumnCount).CopyTo(values.AsSpan(i * ColumnCount));
        return new CsvTable(Source, _names, values, rows.Length);
    }
}
