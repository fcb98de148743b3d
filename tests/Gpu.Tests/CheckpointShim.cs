// TEMPORARY, test-only (as in tests/Runtime.Tests): the generated models call global::Compiled.Checkpoint.Load, which
// has not landed yet, so no generated model compiles without this. It shadows the runtime's type for this test
// assembly only (CS0436, silenced here). Delete this file when Checkpoint.Load lands; nothing here loads a checkpoint.
#pragma warning disable CS0436
namespace Compiled;

internal static class Checkpoint
{
    public static void Load(IModel model, string path) =>
        throw new NotSupportedException("Checkpoint.Load has not landed yet; this is the GPU tests' build shim.");
}
