using System.CommandLine;
using System.CommandLine.Help;

namespace Compiled.Samples;

/// <summary>
/// The samples' command line, through System.CommandLine (linked into each sample by samples/Shared/Samples.props):
/// options that validate their values, and <see cref="Run"/>, which turns a bad command line or a bad data file into
/// one line on standard error and a non-zero exit code instead of an exception with a stack trace.
/// </summary>
internal static class SampleCli
{
    /// <summary>The exit code of a command line that does not parse or validate.</summary>
    public const int UsageError = 2;

    /// <summary>The exit code of a run that failed on its input (a missing or malformed file, say).</summary>
    public const int Failure = 1;

    /// <summary>An option that takes a whole number greater than zero.</summary>
    public static Option<int> Positive(string name, int defaultValue, string description)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        option.Validators.Add(result =>
        {
            // A token that is not a number at all gets the parser's own error.
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, out int n) && n <= 0)
                result.AddError($"{name} takes a whole number above zero, not {result.Tokens[^1].Value}.");
        });
        return option;
    }

    /// <summary>An optional whole number greater than zero (null when the option is not given).</summary>
    public static Option<int?> OptionalPositive(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, out int n) && n <= 0)
                result.AddError($"{name} takes a whole number above zero, not {result.Tokens[^1].Value}.");
        });
        return option;
    }

    /// <summary>An option that takes a finite number greater than zero (a fraction is fine: <c>0.5</c>).</summary>
    public static Option<double> PositiveNumber(string name, double defaultValue, string description)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "X" };
        option.Validators.Add(result =>
        {
            // A token that is not a number at all gets the parser's own error.
            if (result.Tokens.Count > 0 && double.TryParse(result.Tokens[^1].Value, System.Globalization.NumberStyles.Float,
                    System.Globalization.CultureInfo.InvariantCulture, out double x) && !(x > 0 && double.IsFinite(x)))
                result.AddError($"{name} takes a number above zero, not {result.Tokens[^1].Value}.");
        });
        return option;
    }

    /// <summary>A file that must exist; <paramref name="hint"/> (if any) ends the error's line.</summary>
    public static Option<string> ExistingFile(string name, string? defaultValue, string description, string? hint = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = "FILE" };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.Validators.Add(result =>
        {
            string? path = result.Tokens.Count > 0 ? result.Tokens[^1].Value : defaultValue;
            if (path is not null && !File.Exists(path))
                result.AddError($"{name}: there is no file '{path}'.{(hint is null ? "" : " " + hint)}");
        });
        return option;
    }

    /// <summary>A directory that must exist; <paramref name="hint"/> (if any) ends the error's line.</summary>
    public static Option<string> ExistingDirectory(string name, string? defaultValue, string description, string? hint = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = "DIR" };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        option.Validators.Add(result =>
        {
            string? path = result.Tokens.Count > 0 ? result.Tokens[^1].Value : defaultValue;
            if (path is not null && !Directory.Exists(path))
                result.AddError($"{name}: there is no directory '{path}'.{(hint is null ? "" : " " + hint)}");
        });
        return option;
    }

    /// <summary>An option that takes one of <paramref name="choices"/> (the first is the default).</summary>
    public static Option<string> Choice(string name, string description, params string[] choices)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => choices[0] };
        option.AcceptOnlyFromAmong(choices);
        return option;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command's action. A parse or validation error prints one line
    /// (all the errors, then a pointer to <c>--help</c>) and returns <see cref="UsageError"/>; an input error thrown by
    /// the action (<see cref="IOException"/>, <see cref="InvalidDataException"/>, <see cref="ArgumentException"/>,
    /// <see cref="UnauthorizedAccessException"/>, <see cref="PlatformNotSupportedException"/>) prints its message on one
    /// line and returns <see cref="Failure"/>. Anything else is a bug and keeps its stack trace.
    /// </summary>
    public static int Run(RootCommand command, string[] args)
    {
        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            string errors = string.Join(" ", parsed.Errors.Select(e => e.Message.ReplaceLineEndings(" ").TrimEnd()));
            Console.Error.WriteLine($"{command.Name}: {errors} (--help lists the options)");
            return UsageError;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException
                                      or PlatformNotSupportedException)
        {
            Console.Error.WriteLine($"{command.Name}: {e.Message.ReplaceLineEndings(" ").TrimEnd()}");
            return Failure;
        }
    }
}
