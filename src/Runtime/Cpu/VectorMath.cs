using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Compiled.CompilerServices;

/// <summary>Vector forms of the transcendental functions the BCL does not vectorise (tanh).</summary>
internal static class VectorMath
{
    // tanh(z) = sign(z) · (1 − e^(−2|z|)) / (1 + e^(−2|z|)). Below |z| = 1/8 the subtraction would cancel, so an odd
    // Taylor polynomial to z⁷ takes over there (its truncation error is below 2e-9 relative).
    internal const float Small = 0.125f;
    internal const float T3 = -1f / 3f, T5 = 2f / 15f, T7 = -17f / 315f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> z)
    {
        Vector512<float> a = Vector512.Abs(z);
        Vector512<float> t = Vector512.Exp(a * -2f);
        Vector512<float> big = (Vector512<float>.One - t) / (Vector512<float>.One + t);
        Vector512<float> z2 = z * z;
        Vector512<float> poly = Vector512.MultiplyAddEstimate(Vector512.MultiplyAddEstimate(
            Vector512.MultiplyAddEstimate(z2, Vector512.Create(T7), Vector512.Create(T5)), z2, Vector512.Create(T3)), z2 * a, a);
        Vector512<float> r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(Small)), poly, big);
        return r | (z & Vector512.Create(-0f)); // copy the sign of z
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> z)
    {
        Vector256<float> a = Vector256.Abs(z);
        Vector256<float> t = Vector256.Exp(a * -2f);
        Vector256<float> big = (Vector256<float>.One - t) / (Vector256<float>.One + t);
        Vector256<float> z2 = z * z;
        Vector256<float> poly = Vector256.MultiplyAddEstimate(Vector256.MultiplyAddEstimate(
            Vector256.MultiplyAddEstimate(z2, Vector256.Create(T7), Vector256.Create(T5)), z2, Vector256.Create(T3)), z2 * a, a);
        Vector256<float> r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(Small)), poly, big);
        return r | (z & Vector256.Create(-0f));
    }
}
