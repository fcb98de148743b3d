// TEMPORARY, test-only: the generated models call global::Compiled.Checkpoint.Load, which the checkpoint work has not
// landed yet (src/Runtime/Checkpoints/Checkpoint.cs is empty), so no generated model compiles without this. This type
// shadows the runtime's (warning CS0436, silenced here) for this test assembly only. Delete this file when
// Checkpoint.Load lands; until then nothing in these tests loads a checkpoint.
#pragma warning disable CS0436
namespace Compiled;

internal static class Checkpoint
{
    public static void Load(IModel model, string path) =>
        throw new NotSupportedException("Checkpoint.Load has not landed yet; this is the trainer tests' build shim.");
}
