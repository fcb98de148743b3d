namespace Compiled;

/// <summary>
/// A small seeded random generator (xoshiro128**, seeded through SplitMix64). The same seed gives the same
/// sequence on every machine and .NET version, so initialisation and shuffling are reproducible.
/// </summary>
public struct Rng
{
    private uint _s0, _s1, _s2, _s3;

    /// <summary>Seeds the generator; the same seed gives the same sequence.</summary>
    public Rng(long seed)
    {
        ulong z = unchecked((ulong)seed);
        _s0 = (uint)SplitMix(ref z);
        _s1 = (uint)SplitMix(ref z);
        _s2 = (uint)SplitMix(ref z);
        _s3 = (uint)SplitMix(ref z);
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 1;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = unchecked(x += 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt32()
    {
        uint result = unchecked(uint.RotateLeft(_s1 * 5, 7) * 9);
        uint t = _s1 << 9;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = uint.RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>A float uniform in [0, 1).</summary>
    public float NextFloat() => (NextUInt32() >> 8) * (1f / (1 << 24));

    /// <summary>An integer uniform in [0, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(((ulong)NextUInt32() * (uint)maxExclusive) >> 32);
    }

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
