namespace Compiled.CompilerServices;

/// <summary>Seeded weight initialisers; the generator picks one per layer from its activation.</summary>
public static class Init
{
    /// <summary>He (Kaiming) uniform, for ReLU-family layers: U(−√(6/fanIn), √(6/fanIn)).</summary>
    public static void HeUniform(Span<float> weights, int fanIn, ref Rng rng)
        => Uniform(weights, MathF.Sqrt(6f / fanIn), ref rng);

    /// <summary>Glorot (Xavier) uniform: U(−√(6/(fanIn+fanOut)), √(6/(fanIn+fanOut))).</summary>
    public static void GlorotUniform(Span<float> weights, int fanIn, int fanOut, ref Rng rng)
        => Uniform(weights, MathF.Sqrt(6f / (fanIn + fanOut)), ref rng);

    /// <summary>U(−limit, limit).</summary>
    public static void Uniform(Span<float> weights, float limit, ref Rng rng)
    {
        for (int i = 0; i < weights.Length; i++)
            weights[i] = (2f * rng.NextFloat() - 1f) * limit;
    }

    /// <summary>N(0, std²) by the Box–Muller transform (PyTorch's <c>nn.Embedding</c> starts at N(0, 1)).</summary>
    public static void Normal(Span<float> weights, float std, ref Rng rng)
    {
        for (int i = 0; i < weights.Length; i += 2)
        {
            // u1 in (0, 1] so the log is finite.
            float u1 = 1f - rng.NextFloat(), u2 = rng.NextFloat();
            float r = MathF.Sqrt(-2f * MathF.Log(u1)) * std, angle = 2f * MathF.PI * u2;
            weights[i] = r * MathF.Cos(angle);
            if (i + 1 < weights.Length) weights[i + 1] = r * MathF.Sin(angle);
        }
    }
}
