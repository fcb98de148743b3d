using System.Globalization;
using System.Text;
using Xunit;

namespace Compiled.Runtime.Tests.Data;

/// <summary>The CSV reader on the shipped tables, on every error it names, and on fuzzed files; splits; standardisation.</summary>
public sealed class CsvTests
{
    private static readonly CsvOptions s_sklearn = new() { SkipLines = 1, HasHeader = false };

    private static CsvTable Parse(string text, CsvOptions? options = null) => Csv.Parse(new StringReader(text), "t.csv", options);

    private static string Error(string text, CsvOptions? options = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse(text, options));
        TestContext.Current.TestOutputHelper?.WriteLine(e.Message);
        return e.Message;
    }

    public static TheoryData<string, int, int, int> Tables => new()
    {
        { "breast_cancer.csv", 569, 30, 2 },
        { "iris.csv", 150, 4, 3 },
        { "wine_data.csv", 178, 13, 3 },
    };

    /// <summary>Each shipped table: the size its first line announces, whole-number labels of every class, finite values.</summary>
    [Theory]
    [MemberData(nameof(Tables))]
    public void ShippedTablesReadWithTheSizesTheyAnnounce(string name, int rows, int features, int classes)
    {
        string path = TestData.RepoFile("samples/Regression/data/" + name);
        string[] first = File.ReadLines(path).First().Split(',');
        Assert.Equal(rows, int.Parse(first[0], CultureInfo.InvariantCulture));
        Assert.Equal(features, int.Parse(first[1], CultureInfo.InvariantCulture));
        Assert.Equal(classes, first.Length - 2);

        CsvTable table = Csv.Read(path, s_sklearn);
        Assert.Equal(rows, table.RowCount);
        Assert.Equal(features + 1, table.ColumnCount);
        Assert.Equal(Enumerable.Range(0, features + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)), table.ColumnNames);
        double[] labels = table.Column(features.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(0, classes).Select(c => (double)c), labels.Distinct().Order());

        Dataset data = table.ToDataset(target: features.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(features, data.FeatureSize);
        Assert.Equal(rows, data.Count);
        // The first row as written in the file, to the float.
        float[] expected = File.ReadLines(path).Skip(1).First().Split(',').Select(c => float.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected[..features], data.FeaturesOf(0).ToArray());
        Assert.Equal(expected[features], data.TargetsOf(0)[0]);
    }

    [Fact]
    public void HeaderNamesChooseTheTargetAndTheFeatures()
    {
        CsvTable table = Parse("a, b ,\"c,d\",y\n1,2,3,10\n\n4, 5 ,\"6\",20\r\n");
        Assert.Equal(new[] { "a", "b", "c,d", "y" }, table.ColumnNames);
        Assert.Equal(2, table.RowCount);
        Dataset all = table.ToDataset("y");
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, all.Features.ToArray());
        Assert.Equal(new float[] { 10, 20 }, all.Targets.ToArray());
        Dataset two = table.ToDataset("a", "c,d", "y");
        Assert.Equal(new float[] { 3, 10, 6, 20 }, two.Features.ToArray());
        Assert.Equal(new float[] { 1, 4 }, two.Targets.ToArray());
        Assert.Equal(5, table[1, 1]);
    }

    [Fact]
    public void GivenColumnNamesNameAHeaderlessFile()
    {
        CsvTable table = Parse("1;2\n3;4\n", new CsvOptions { HasHeader = false, Separator = ';', ColumnNames = new[] { "x", "y" } });
        Assert.Equal(new double[] { 2, 4 }, table.Column("y"));
    }

    [Fact]
    public void NonNumericCellNamesFileLineAndColumn()
    {
        string message = Error("a,b,y\n1,2,3\n4,oops,6\n");
        Assert.Contains("t.csv line 3 (data row 2), column 'b' (column 2): 'oops' is not a finite number", message);
    }

    [Theory]
    [InlineData("a,y\n1,\n", "line 2 (data row 1), column 'y' (column 2): the cell is empty")]
    [InlineData("a,y\n1,NaN\n", "column 'y' (column 2): 'NaN' is not a finite number")]
    [InlineData("a,y\n1,1e999\n", "'1e999' is not a finite number")]
    [InlineData("a,y\n1,1,5\n", "line 2 (data row 1) has 3 cells, but the table has 2 columns (a, y)")]
    [InlineData("a,y\n1,2\n\n3\n", "line 4 (data row 2) has 1 cells, but the table has 2 columns")]
    [InlineData("a,y\n1,\"2\n", "line 2, column 2: a quoted cell is not closed")]
    [InlineData("a,y\n1,\"2\"x\n", "line 2, column 2: text follows a quoted cell")]
    [InlineData("a,a\n1,2\n", "line 1: columns 1 and 2 are both named 'a'")]
    [InlineData("a,,y\n1,2,3\n", "line 1: column 2 has no name")]
    [InlineData("", "t.csv is empty: it has no header row")]
    [InlineData("\n  \n", "t.csv is empty: it has no header row")]
    [InlineData("a,y\n", "t.csv has a header (a, y) but no data rows")]
    public void BadFilesAreRejectedWithTheirPlace(string text, string expected)
        => Assert.Contains(expected, Error(text));

    [Fact]
    public void EmptyFilesWithoutHeaderOrWithTooFewLinesToSkip()
    {
        Assert.Contains("t.csv is empty: it has no rows", Error("", new CsvOptions { HasHeader = false }));
        Assert.Contains("ends before the 2 line(s) to skip", Error("x\n", new CsvOptions { SkipLines = 2 }));
        Assert.Contains("the header has 2 columns, but 3 column names were given",
            Error("a,b\n1,2\n", new CsvOptions { ColumnNames = new[] { "x", "y", "z" } }));
    }

    [Fact]
    public void MissingColumnNamesTheFileAndListsTheColumns()
    {
        CsvTable table = Parse("a,b\n1,2\n");
        var e = Assert.Throws<ArgumentException>(() => table.ToDataset("price"));
        Assert.Contains("t.csv has no column named 'price'; its columns are a, b", e.Message);
        Assert.Throws<ArgumentException>(() => table.ToDataset("a", "b", "nope"));
        Assert.Contains("both the target and a feature", Assert.Throws<ArgumentException>(() => table.ToDataset("a", "a")).Message);
        Assert.Contains("no features", Assert.Throws<ArgumentException>(() => Parse("y\n1\n").ToDataset("y")).Message);
    }

    [Fact]
    public void MissingFileAndEmptyFileOnDisk()
    {
        using var dir = new TempDirectory();
        Assert.Contains("does not exist", Assert.Throws<FileNotFoundException>(() => Csv.Read(dir.File("none.csv"))).Message);
        File.WriteAllBytes(dir.File("empty.csv"), Array.Empty<byte>());
        var e = Assert.Throws<InvalidDataException>(() => Csv.Read(dir.File("empty.csv")));
        Assert.Contains(dir.File("empty.csv") + " is empty", e.Message);
    }

    /// <summary>
    /// 300 random tables written in random styles (spaces, quotes, CRLF, blank lines, exponents, signs) read back to the
    /// exact doubles; then one cell of each is broken (letters, emptied, a cell added or dropped) and the error must name
    /// that line (and, for a bad cell, that column), never anything but an <see cref="InvalidDataException"/>.
    /// </summary>
    [Fact]
    public void FuzzedTablesRoundTripAndBrokenOnesNameTheirPlace()
    {
        var random = new Random(7);
        for (int round = 0; round < 300; round++)
        {
            int columns = random.Next(1, 7), rows = random.Next(1, 9);
            var names = Enumerable.Range(0, columns).Select(c => $"col{c}").ToArray();
            var values = new double[rows, columns];
            var lines = new List<string> { string.Join(",", names.Select(n => Decorate(n, random))) };
            var lineOfRow = new int[rows];
            for (int r = 0; r < rows; r++)
            {
                if (random.Next(4) == 0) lines.Add(random.Next(2) == 0 ? "" : "   ");
                var cells = new string[columns];
                for (int c = 0; c < columns; c++)
                {
                    double v = Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-5, 8)), random.Next(0, 6));
                    values[r, c] = v;
                    string format = random.Next(3) switch { 0 => "R", 1 => "E10", _ => "G17" };
                    cells[c] = Decorate(v.ToString(format, CultureInfo.InvariantCulture), random);
                }
                lines.Add(string.Join(",", cells));
                lineOfRow[r] = lines.Count;
            }
            string newline = random.Next(2) == 0 ? "\n" : "\r\n";
            string text = string.Join(newline, lines) + (random.Next(2) == 0 ? newline : "");

            CsvTable table = Parse(text);
            Assert.Equal(names, table.ColumnNames);
            Assert.Equal(rows, table.RowCount);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    Assert.Equal(double.Parse(values[r, c].ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), table[r, c], 1e-9 * Math.Max(1, Math.Abs(values[r, c])));

            // Break one cell of one row.
            int row = random.Next(rows), column = random.Next(columns), kind = random.Next(4);
            int at = lineOfRow[row] - 1;
            var broken = lines[at].Split(',').ToList();
            switch (kind)
            {
                case 0: broken[column] = "x" + broken[column]; break;
                case 1: broken[column] = broken.Count > 1 ? " " : "-"; break; // a lone empty cell is a blank line, skipped
                case 2: broken.Add("1"); break;
                default: if (broken.Count > 1) broken.RemoveAt(column); else broken[0] = "one"; break;
            }
            var brokenLines = lines.ToList();
            brokenLines[at] = string.Join(",", broken);
            var e = Assert.Throws<InvalidDataException>(() => Parse(string.Join(newline, brokenLines)));
            Assert.Contains($"t.csv line {lineOfRow[row]}", e.Message);
            if (kind < 2) Assert.Contains($"column '{names[column]}' (column {column + 1})", e.Message);
        }
    }

    private static string Decorate(string cell, Random random) => random.Next(4) switch
    {
        0 => " " + cell + "  ",
        1 => "\"" + cell + "\"",
        2 => "\t" + cell,
        _ => cell,
    };

    [Fact]
    public void RandomBytesNeverThrowAnythingButInvalidData()
    {
        var random = new Random(11);
        const string alphabet = "0123456789.,-+eE\" \n\r\tabc;";
        for (int i = 0; i < 2000; i++)
        {
            var text = new StringBuilder();
            int length = random.Next(0, 60);
            for (int k = 0; k < length; k++) text.Append(alphabet[random.Next(alphabet.Length)]);
            try
            {
                CsvTable table = Parse(text.ToString(), new CsvOptions { HasHeader = random.Next(2) == 0 });
                Assert.True(table.RowCount > 0);
                for (int r = 0; r < table.RowCount; r++)
                    for (int c = 0; c < table.ColumnCount; c++) Assert.True(double.IsFinite(table[r, c]));
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Fact]
    public void SplitIsSeededDisjointAndComplete()
    {
        CsvTable table = Csv.Read(TestData.RepoFile("samples/Regression/data/breast_cancer.csv"), s_sklearn);
        var (train, test) = table.Split(0.2, seed: 3);
        Assert.Equal(114, test.RowCount); // round(569 · 0.2)
        Assert.Equal(455, train.RowCount);
        var (train2, test2) = table.Split(0.2, seed: 3);
        Assert.Equal(test.Column("0"), test2.Column("0"));
        Assert.Equal(train.Column("5"), train2.Column("5"));
        Assert.NotEqual(test.Column("0"), table.Split(0.2, seed: 4).Test.Column("0"));
        // Every row lands in exactly one part: compare whole rows as strings.
        string Row(CsvTable t, int r) => string.Join(",", Enumerable.Range(0, t.ColumnCount).Select(c => t[r, c].ToString("R", CultureInfo.InvariantCulture)));
        var original = Enumerable.Range(0, table.RowCount).Select(r => Row(table, r)).Order().ToList();
        var parts = Enumerable.Range(0, train.RowCount).Select(r => Row(train, r))
            .Concat(Enumerable.Range(0, test.RowCount).Select(r => Row(test, r))).Order().ToList();
        Assert.Equal(original, parts);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Split(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Split(1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Parse("a\n1\n").Split(0.5, 1));
        Assert.Equal((1, 1), (Parse("a\n1\n2\n").Split(0.01, 1).Train.RowCount, Parse("a\n1\n2\n").Split(0.01, 1).Test.RowCount));
    }

    [Fact]
    public void StandardizerMatchesTheDefinitionAndRoundTrips()
    {
        Dataset data = Csv.Read(TestData.RepoFile("samples/Regression/data/wine_data.csv"), s_sklearn).ToDataset("13");
        var scaler = Standardizer.Fit(data);
        Dataset scaled = scaler.Transform(data);
        double maxError = 0;
        for (int j = 0; j < data.FeatureSize; j++)
        {
            double[] column = Enumerable.Range(0, data.Count).Select(i => (double)data.Features[i * data.FeatureSize + j]).ToArray();
            double mean = column.Average(), std = Math.Sqrt(column.Select(v => (v - mean) * (v - mean)).Average());
            Assert.Equal(mean, scaler.Mean[j], 1e-9 * Math.Max(1, Math.Abs(mean)));
            Assert.Equal(std, scaler.StandardDeviation[j], 1e-9 * Math.Max(1, std));
            double[] z = Enumerable.Range(0, data.Count).Select(i => (double)scaled.Features[i * data.FeatureSize + j]).ToArray();
            double zMean = z.Average(), zStd = Math.Sqrt(z.Select(v => (v - zMean) * (v - zMean)).Average());
            maxError = Math.Max(maxError, Math.Max(Math.Abs(zMean), Math.Abs(zStd - 1)));
        }
        Assert.True(maxError < 1e-5, $"standardised wine features: max |mean| or |std − 1| {maxError:E2}");
        Assert.Equal(data.Targets.ToArray(), scaled.Targets.ToArray());
        TestContext.Current.TestOutputHelper?.WriteLine($"wine: max |mean| or |std − 1| after standardising {maxError:E2}");

        // Saved and loaded, it scales one sample in place exactly as the data set, and the inverse undoes it.
        using var dir = new TempDirectory();
        scaler.Save(dir.File("scaler.csv"));
        var loaded = Standardizer.Load(dir.File("scaler.csv"));
        Assert.Equal(scaler.Mean.ToArray(), loaded.Mean.ToArray());
        Assert.Equal(scaler.StandardDeviation.ToArray(), loaded.StandardDeviation.ToArray());
        float[] sample = data.FeaturesOf(17).ToArray();
        loaded.Transform(sample);
        Assert.Equal(scaled.FeaturesOf(17).ToArray(), sample);
        loaded.InverseTransform(sample);
        for (int j = 0; j < sample.Length; j++) Assert.Equal(data.FeaturesOf(17)[j], sample[j], 1e-3f * Math.Max(1, Math.Abs(sample[j])));
    }

    [Fact]
    public void StandardizerEdgeCases()
    {
        var constant = new Dataset(new float[] { 5, 1, 5, 2, 5, 3 }, new float[3], 2, 1);
        var scaler = Standardizer.Fit(constant);
        Assert.Equal(1, scaler.StandardDeviation[0]);
        Assert.Equal(new float[] { 0, -1.2247449f, 0, 0, 0, 1.2247449f }, scaler.Transform(constant).Features.ToArray());
        Assert.Contains("fitted on 2", Assert.Throws<ArgumentException>(() => scaler.Transform(new Dataset(new float[3], new float[1], 3, 1))).Message);
        Assert.Contains("not a whole number of samples of 2", Assert.Throws<ArgumentException>(() => scaler.Transform(new float[3].AsSpan())).Message);
        Assert.Contains("must be finite", Assert.Throws<ArgumentException>(() => Standardizer.Fit(new Dataset(new[] { float.NaN }, new float[1], 1, 1))).Message);
        Assert.Throws<ArgumentException>(() => new Standardizer(new double[] { 0 }, new double[] { 0 }));

        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.csv"), "mean,scale\n1,2\n");
        Assert.Contains("is not a saved Standardizer", Assert.Throws<InvalidDataException>(() => Standardizer.Load(dir.File("bad.csv"))).Message);
        File.WriteAllText(dir.File("neg.csv"), "mean,std\n1,2\n1,-2\n");
        Assert.Contains("data row 2: the standard deviation -2 is not positive",
            Assert.Throws<InvalidDataException>(() => Standardizer.Load(dir.File("neg.csv"))).Message);
    }
}
