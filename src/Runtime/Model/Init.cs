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
}
