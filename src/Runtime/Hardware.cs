using Compiled.CompilerServices;

namespace Compiled;

/// <summary>What the CPU kernels run on in this process.</summary>
public static class Hardware
{
    /// <summary>
    /// The widest instructions the CPU kernels use: <c>"AVX-512"</c>, <c>"AVX2"</c> or <c>"scalar"</c>. It is the best
    /// the process can run (under NativeAOT: the best the publish's instruction set allows), lowered by the
    /// environment variable <c>COMPILED_ISA</c> (<c>avx512</c>, <c>avx2</c> or <c>scalar</c>) when that is set lower,
    /// which is how the fallbacks are tested on a machine that has more.
    /// </summary>
    public static string KernelIsa => Gemm.Name(Gemm.Isa);
}
