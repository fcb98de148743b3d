using System.Runtime.CompilerServices;

namespace Compiled.CompilerServices;

/// <summary>Argument checks shared by every generated model, so the generated code stays short.</summary>
public static class ModelGuard
{
    /// <summary>Checks a forward call's spans hold <paramref name="batch"/> samples.</summary>
    public static void CheckForward(int inputs, int outputs, int batch, int inputSize, int outputSize)
    {
        CheckBatch(batch);
        Check(inputs, batch, inputSize, "inputs");
        Check(outputs, batch, outputSize, "outputs");
    }

    /// <summary>Checks a training call's spans hold <paramref name="batch"/> samples (outputs may be empty).</summary>
    public static void CheckTraining(int inputs, int targets, int outputs, int batch, int inputSize, int targetSize, int outputSize)
    {
        CheckBatch(batch);
        Check(inputs, batch, inputSize, "inputs");
        Check(targets, batch, targetSize, "targets");
        if (outputs != 0) Check(outputs, batch, outputSize, "outputs");
    }

    private static void CheckBatch(int batch)
    {
        if (batch <= 0) ThrowBatch(batch);
    }

    private static void Check(int length, int batch, int size, string name)
    {
        if (length < (long)batch * size) ThrowLength(length, batch, size, name);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBatch(int batch) =>
        throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch size must be at least 1.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLength(int length, int batch, int size, string name) =>
        throw new ArgumentException(
            $"{name} holds {length} floats, but a batch of {batch} needs {(long)batch * size} ({size} per sample).", name);
}
