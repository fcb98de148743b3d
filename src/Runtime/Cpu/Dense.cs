namespace Compiled.Cpu;

/// <summary>
/// The fully connected layer's kernels. Weights are stored PyTorch-style as [units, inputs], row-major;
/// activations as [batch, features], row-major.
/// </summary>
public static class Dense
{
    /// <summary>
    /// y[batch, units] = f(x[batch, inputs] · w[units, inputs]ᵀ + b[units]), with the bias and activation fused
    /// into the GEMM's epilogue. When <paramref name="preActivation"/> is not empty it receives z = x·wᵀ + b.
    /// </summary>
    public static void Forward<TAct>(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b,
        Span<float> y, Span<float> preActivation, int batch, int inputs, int units) where TAct : struct, IActivation
    {
        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * inputs, inputs);
            for (int o = 0; o < units; o++)
            {
                ReadOnlySpan<float> wr = w.Slice(o * inputs, inputs);
                float acc = b[o];
                for (int i = 0; i < inputs; i++) acc += xr[i] * wr[i];
                if (!preActivation.IsEmpty) preActivation[r * units + o] = acc;
                y[r * units + o] = TAct.Apply(acc);
            }
        }
    }

    /// <summary>
    /// Given dz[batch, units] (the gradient at the pre-activation), writes dw = dzᵀ · x, db = Σ_batch dz and,
    /// unless <paramref name="dx"/> is empty (the first layer needs no input gradient), dx = dz · w.
    /// dw, db and dx are overwritten, not accumulated.
    /// </summary>
    public static void Backward(Span<float> dx, Span<float> dw, Span<float> db, ReadOnlySpan<float> dz,
        ReadOnlySpan<float> x, ReadOnlySpan<float> w, int batch, int inputs, int units)
    {
        dw.Slice(0, units * inputs).Clear();
        db.Slice(0, units).Clear();
        for (int r = 0; r < batch; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * inputs, inputs);
            for (int o = 0; o < units; o++)
            {
                float g = dz[r * units + o];
                db[o] += g;
                Span<float> dwr = dw.Slice(o * inputs, inputs);
                for (int i = 0; i < inputs; i++) dwr[i] += g * xr[i];
            }
        }
        if (dx.IsEmpty) return;
        for (int r = 0; r < batch; r++)
        {
            Span<float> dxr = dx.Slice(r * inputs, inputs);
            dxr.Clear();
            for (int o = 0; o < units; o++)
            {
                float g = dz[r * units + o];
                ReadOnlySpan<float> wr = w.Slice(o * inputs, inputs);
                for (int i = 0; i < inputs; i++) dxr[i] += g * wr[i];
            }
        }
    }

    /// <summary>Adds the L2 penalty's gradient (dw += 2·λ·w) and returns the penalty λ·Σ w².</summary>
    public static float L2(ReadOnlySpan<float> w, Span<float> dw, float lambda)
    {
        float sum = 0f;
        for (int i = 0; i < w.Length; i++)
        {
            sum += w[i] * w[i];
            dw[i] += 2f * lambda * w[i];
        }
        return lambda * sum;
    }
}
