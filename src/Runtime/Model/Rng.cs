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

    /// <summary>The generator's state as 32 hex digits, for training checkpoints.</summary>
    internal readonly string ToStateString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_s0:x8}{_s1:x8}{_s2:x8}{_s3:x8}");

    /// <summary>Reads a state written by <see cref="ToStateString"/>; false when it is not 32 hex digits of a valid state.</summary>
    internal static bool TryParseState(string? text, out Rng rng)
    {
        rng = default;
        if (text is null || text.Length != 32) return false;
        Span<uint> s = stackalloc uint[4];
        for (int i = 0; i < 4; i++)
            if (!uint.TryParse(text.AsSpan(8 * i, 8), System.Globalization.NumberStyles.AllowHexSpecifier,
                System.Globalization.CultureInfo.InvariantCulture, out s[i])) return false;
        if ((s[0] | s[1] | s[2] | s[3]) == 0) return false;
        rng._s0 = s[0];
        rng._s1 = s[1];
        rng._s2 = s[2];
        rng._s3 = s[3];
        return true;
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
