namespace Compiled;

/// <summary>Saves and loads a model's parameters as safetensors (implementation lands with the checkpoint work).</summary>
public static partial class Checkpoint
{
}
