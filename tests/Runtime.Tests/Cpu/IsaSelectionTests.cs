using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Cpu;

/// <summary>COMPILED_ISA lowers the kernels' instruction set and never raises it.</summary>
[Collection(nameof(CpuKernels))]
public sealed class IsaSelectionTests
{
    // Instruction sets as ints (KernelIsa is internal): 0 scalar, 1 AVX2, 2 AVX-512.
    [Theory]
    [InlineData(2, null, 2)]
    [InlineData(2, "", 2)]
    [InlineData(2, "avx2", 1)]
    [InlineData(2, " AVX2 ", 1)]
    [InlineData(2, "scalar", 0)]
    [InlineData(2, "avx512", 2)]
    [InlineData(1, "avx512", 1)]
    [InlineData(1, "Scalar", 0)]
    [InlineData(0, "avx2", 0)]
    [InlineData(2, "sse9", 2)]
    public void Limit_lowers_only(int best, string? request, int expected) =>
        Assert.Equal((KernelIsa)expected, Gemm.Limit((KernelIsa)best, request));

    [Fact]
    public void KernelIsa_names_the_path_in_use() =>
        Assert.Equal(Gemm.Isa switch { KernelIsa.Vector512 => "AVX-512", KernelIsa.Vector256 => "AVX2", _ => "scalar" },
            Hardware.KernelIsa);
}
