using System.Runtime.CompilerServices;
using Compiled.CompilerServices;
using Xunit;

namespace Compiled.Runtime.Tests.Training;

/// <summary>One linear layer 64 → 64: its only layer reads the inputs while it writes the outputs, and a batch of 32 or
/// more splits its columns between the cores.</summary>
[Input(64)] [Dense(64)] [Loss(Loss.MeanSquaredError)]
public partial class Linear64;

/// <summary>Workspaces whose buffers start on 64-byte lines: the allocation, the capacity rule, and both workspaces a
/// prediction can lease (the model's own and the thread's, shared by models of different sizes).</summary>
public sealed unsafe class AlignedWorkspaceTests
{
    private static bool OnLine(float[] array, int index) =>
        ((nint)Unsafe.AsPointer(ref array[index]) & 63) == 0;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(100_000)]
    [InlineData(5_000_000)] // large object heap sizes too
    public void Allocate_returns_an_origin_on_a_cache_line_with_room_after_it(int floats)
    {
        for (int i = 0; i < 20; i++) // several allocations: the runtime puts arrays 8 or 16 bytes off a line
        {
            float[] a = AlignedWorkspace.Allocate(floats, out int origin);
            Assert.InRange(origin, 0, AlignedWorkspace.LineFloats - 1);
            Assert.True(a.Length - origin >= floats, $"{a.Length - origin} floats after the origin, {floats} asked");
            if (a.Length > origin) Assert.True(OnLine(a, origin), $"origin {origin} is not on a 64-byte line");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(15, 15)]
    [InlineData(16, 16)]
    [InlineData(17, 32)]
    [InlineData(64, 64)]
    [InlineData(1000, 1008)]
    public void Capacity_is_the_batch_below_16_and_a_multiple_of_16_from_16(int batch, int expected) =>
        Assert.Equal(expected, AlignedWorkspace.Capacity(batch));

    [Fact]
    public void Capacity_rejects_an_empty_batch() =>
        Assert.Throws<ArgumentOutOfRangeException>("batch", () => AlignedWorkspace.Capacity(0));

    [Theory]
    [InlineData(10, 1)]
    [InlineData(10, 20)]
    [InlineData(138, 64)]
    [InlineData(7, 1000)]
    public void Every_buffer_of_a_leased_workspace_starts_on_a_line(int perSample, int batch)
    {
        var sync = new ModelSync(perSample);
        InferenceLease own = sync.EnterInference(batch);
        InferenceLease shared = sync.EnterInference(batch); // the model's own is taken: the thread's
        try
        {
            Assert.True(own.Owned);
            Assert.False(shared.Owned);
            foreach (InferenceLease lease in new[] { own, shared })
            {
                Assert.True(lease.Capacity >= batch, $"capacity {lease.Capacity} < batch {batch}");
                Assert.True(lease.Workspace.Length - lease.Origin >= (long)lease.Capacity * perSample);
                Assert.True(OnLine(lease.Workspace, lease.Origin));
                if (lease.Capacity >= AlignedWorkspace.LineFloats)
                    Assert.Equal(0, lease.Capacity % AlignedWorkspace.LineFloats); // buffer k at origin + offset·capacity: on a line
            }
        }
        finally
        {
            sync.ExitInference(shared);
            sync.ExitInference(own);
        }
    }

    [Fact]
    public void The_threads_workspace_fits_a_model_of_another_size()
    {
        // A larger model leaves a workspace that holds 25 samples of the smaller one: a batch of 20 must get a capacity
        // that is both at least 20 and a multiple of 16 (32), so it cannot take the 25 it happens to fit.
        var big = new ModelSync(1000);
        var small = new ModelSync(1280);
        InferenceLease ownBig = big.EnterInference(32), sharedBig = big.EnterInference(32); // thread's: 32,000 floats
        big.ExitInference(sharedBig);
        big.ExitInference(ownBig);
        InferenceLease ownSmall = small.EnterInference(20), sharedSmall = small.EnterInference(20);
        try
        {
            Assert.True(sharedSmall.Capacity >= 20);
            Assert.Equal(0, sharedSmall.Capacity % AlignedWorkspace.LineFloats);
            Assert.True(sharedSmall.Workspace.Length - sharedSmall.Origin >= (long)sharedSmall.Capacity * 1280);
            Assert.True(OnLine(sharedSmall.Workspace, sharedSmall.Origin));
        }
        finally
        {
            small.ExitInference(sharedSmall);
            small.ExitInference(ownSmall);
        }
    }
    [Fact]
    public void DirectOutput_only_without_overlap_and_where_alignment_cannot_matter()
    {
        float[] buffer = AlignedWorkspace.Allocate(4096, out int origin);
        ReadOnlySpan<float> inputs = buffer.AsSpan(origin + 2048, 1024);
        Assert.True(AlignedWorkspace.DirectOutput(inputs, buffer.AsSpan(origin, 640), batch: 64)); // on a line
        Assert.False(AlignedWorkspace.DirectOutput(inputs, buffer.AsSpan(origin + 4, 640), batch: 64)); // 16 bytes off
        Assert.True(AlignedWorkspace.DirectOutput(inputs, buffer.AsSpan(origin + 4, 640), batch: Gemm.SharedMinRows)); // rows split
        Assert.False(AlignedWorkspace.DirectOutput(inputs, buffer.AsSpan(origin + 2048 - 16, 640), batch: 64)); // overlaps
        Assert.False(AlignedWorkspace.DirectOutput(inputs, buffer.AsSpan(origin + 2048, 1024), batch: 300)); // the same span
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(40)]
    [InlineData(300)]
    public void Forward_gives_the_same_bits_into_any_outputs_including_its_own_inputs(int batch)
    {
        var model = new Linear64(seed: 3);
        var rng = new Rng(11);
        float[] x = new float[batch * 64];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextFloat() - 0.5f;
        float[] expected = new float[batch * 64];
        model.Forward(x, expected, batch); // a fresh array: 16 bytes off a line, so the workspace and a copy at batch < 256
        float[] buffer = AlignedWorkspace.Allocate(batch * 64 * 3 + 64, out int origin);
        for (int offset = 0; offset < 2; offset++) // on a line (written directly), one float past it (written via the copy)
        {
            Span<float> outputs = buffer.AsSpan(origin + offset, batch * 64);
            outputs.Fill(float.NaN);
            model.Forward(x, outputs, batch);
            Assert.True(outputs.SequenceEqual(expected), $"outputs at offset {offset} differ");
        }
        // The outputs are the inputs, or overlap them by half a row: the layer must not read what it has written.
        foreach (int shift in new[] { 0, 32, -32 })
        {
            float[] both = new float[batch * 64 + 64];
            int start = 32;
            x.CopyTo(both, start);
            model.Forward(both.AsSpan(start, batch * 64), both.AsSpan(start + shift, batch * 64), batch);
            Assert.True(both.AsSpan(start + shift, batch * 64).SequenceEqual(expected), $"outputs shifted by {shift} differ");
        }
    }
}
