using System.Collections.Generic;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[Conv2D(filters, kernel, activation, Stride, Padding, UseBias, Name)]</c> as read.</summary>
internal sealed record Conv2DSpec(int Index, string? Name, int Filters, int KernelHeight, int KernelWidth, Activation Activation,
    int Stride, Padding Padding, bool UseBias) : LayerSpec(Index, Name)
{
    public override string Kind => "Conv2D";

    public override Activation? OutputActivation => Activation;
}

/// <summary>The layer table's row for <c>[Conv2D]</c>: an image <c>(H, W, C)</c> to <c>(H', W', filters)</c>.</summary>
internal sealed class Conv2DLayer : LayerKind
{
    public static readonly Conv2DLayer Instance = new();

    public override string AttributeName => "Compiled.Conv2DAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int before = reader.DiagnosticCount;
        int filters = reader.Int(0);
        int[] kernel = reader.Parameter("kernelSize") >= 0
            ? new[] { reader.Int(1), reader.Int(1) }
            : new[] { reader.Int(reader.Parameter("kernelHeight")), reader.Int(reader.Parameter("kernelWidth")) };
        Activation activation = reader.Enum(reader.Parameter("activation"), Activation.None);
        int stride = reader.Named("Stride", 1);
        Padding padding = reader.NamedEnum("Padding", Padding.Valid);
        bool useBias = reader.Named("UseBias", true);
        if (filters <= 0) reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The filters of Conv2D layer {Int(index)}", Int(filters));
        if (kernel[0] <= 0 || kernel[1] <= 0)
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The kernel of Conv2D layer {Int(index)}", $"{Int(kernel[0])}x{Int(kernel[1])}");
        if (stride <= 0)
            reader.Report(DiagnosticDescriptors.InvalidArgument, $"The stride of Conv2D layer {Int(index)} must be at least 1, but it is {Int(stride)}");
        if (activation == Activation.Softmax)
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"Conv2D layer {Int(index)} cannot end in Softmax (it is over one vector); use [Flatten] and [Dense(n, Activation.Softmax)]");
        return reader.HasErrors(before) ? null
            : new Conv2DSpec(index, name, filters, kernel[0], kernel[1], activation, stride, padding, useBias);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        var spec = (Conv2DSpec)layer;
        if (input.Rank != 3)
        {
            check.Mismatch($"Conv2D needs an image input (height, width, channels), but layer {Int(layer.Index)} gets {input}; " +
                "declare the input as an image, e.g. [Input(28, 28, 1)]");
            return null;
        }
        bool same = spec.Padding == Padding.Same;
        if (!same && (input[0] < spec.KernelHeight || input[1] < spec.KernelWidth))
        {
            check.Mismatch($"Conv2D kernel {Int(spec.KernelHeight)}x{Int(spec.KernelWidth)} does not fit the {input} input of layer {Int(layer.Index)}; " +
                "use a smaller kernel, Padding = Padding.Same, or fewer pooling layers before it");
            return null;
        }
        return new Shape(Conv.OutputSize(input[0], spec.KernelHeight, spec.Stride, same),
            Conv.OutputSize(input[1], spec.KernelWidth, spec.Stride, same), spec.Filters);
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (Conv2DSpec)layer;
        Shape input = context.Input.Shape;
        ParameterTensor weight = context.Parameter("weight", spec.Filters, input[2], spec.KernelHeight, spec.KernelWidth);
        ParameterTensor? bias = spec.UseBias ? context.Parameter("bias", spec.Filters) : null;
        Shape output = layer.Output;
        Buffer? pre = ActivationForms.NeedsPreActivation(spec.Activation)
            ? context.Buffer("Pre", "pre-activation z", (int)output.Size, BufferRole.Activation) : null;
        Tensor y = context.OutputTensor(output);
        context.Add(new Conv2DOp(context.Plan, spec, context.Input, y, weight, bias, pre));
    }
}

/// <summary>Keras' output size and padding along one axis.</summary>
internal static class Conv
{
    public static int OutputSize(int input, int kernel, int stride, bool same)
        => same ? (input + stride - 1) / stride : input < kernel ? 0 : (input - kernel) / stride + 1;

    public static int PadBefore(int input, int kernel, int stride, bool same)
        => same ? System.Math.Max((OutputSize(input, kernel, stride, true) - 1) * stride + kernel - input, 0) / 2 : 0;
}

/// <summary>
/// Conv2D: z = conv(x, W) + b, y = f(z). Activations NHWC ([batch, H, W, C], channels innermost); W is PyTorch's
/// [filters, channels, kh, kw]. Backward: dz = dy ⊙ f'(z); dW, db from dz and x; dx = conv-transpose(dz, W).
/// CPU: direct convolution kernels (src/Runtime/Cpu/Conv2D.cs); GPU: Compiled.Gpu.CompilerServices.Conv2D.
/// </summary>
internal sealed class Conv2DOp : Op
{
    private readonly Conv2DSpec _spec;
    private readonly ParameterTensor _weight;
    private readonly ParameterTensor? _bias;
    private readonly Buffer? _pre;
    private PoolFusion? _pool;

    public Conv2DOp(ModelPlan plan, Conv2DSpec spec, Tensor input, Tensor output, ParameterTensor weight, ParameterTensor? bias, Buffer? pre)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _weight = weight;
        _bias = bias;
        _pre = pre;
    }

    private Activation Act => _spec.Activation;

    public override string Summary =>
        $"Conv2D({Int(_spec.Filters)}, {Int(_spec.KernelHeight)}x{Int(_spec.KernelWidth)}" +
        (_spec.Stride != 1 ? $", stride {Int(_spec.Stride)}" : "") + (_spec.Padding == Padding.Same ? ", same" : "") +
        (Act != Activation.None ? $", {Act}" : "") + (_spec.UseBias ? "" : ", no bias") + ")";

    public override ActivatedOutput? Activated => new(Act, Output, _pre);

    public override LayerDescription Describe()
        => new(_spec.Kind, Act, _bias is null ? new[] { _weight } : new[] { _weight, _bias }, new[]
        {
            $"Filters = {Int(_spec.Filters)}", $"KernelHeight = {Int(_spec.KernelHeight)}", $"KernelWidth = {Int(_spec.KernelWidth)}",
            $"Stride = {Int(_spec.Stride)}", $"Padding = global::Compiled.Padding.{_spec.Padding}", $"UseBias = {(_spec.UseBias ? "true" : "false")}",
        });

    /// <summary><c>new(28, 28, 1, 3, 3, 32, 1, 1, 0, 0, 26, 26)</c>: the geometry as literals.</summary>
    private string Geometry
    {
        get
        {
            Shape i = Input.Shape, o = Output.Shape;
            bool same = _spec.Padding == Padding.Same;
            int top = Conv.PadBefore(i[0], _spec.KernelHeight, _spec.Stride, same), left = Conv.PadBefore(i[1], _spec.KernelWidth, _spec.Stride, same);
            return $"{Cpu}.Conv2DShape({Int(i[0])}, {Int(i[1])}, {Int(i[2])}, {Int(_spec.KernelHeight)}, " +
                $"{Int(_spec.KernelWidth)}, {Int(_spec.Filters)}, {Int(_spec.Stride)}, {Int(_spec.Stride)}, {Int(top)}, {Int(left)}, {Int(o[0])}, {Int(o[1])})";
        }
    }

    /// <summary>The CPU file declares the geometry once, as a static field named after the layer.</summary>
    private string ShapeField => $"s_{Naming.Identifier(Name)}Shape";

    public override IEnumerable<string> Declarations()
    {
        yield return $"private static readonly {Geometry.Replace("Conv2DShape(", "Conv2DShape " + ShapeField + " = new(")};";
    }

    /// <summary>
    /// The CPU runs a first layer with few filters (at most 8: the planar kernels' case, LeNet-5's 6) and the max pooling
    /// behind it as one kernel (<c>Conv2D.ForwardMaxPool</c>): its output stays in the kernel's tile buffer, and the weight
    /// gradient builds dz from the pooled gradient, so neither the output nor its gradient goes through memory. Needs
    /// stride 1, no input gradient (the model's input) and an activation whose derivative reads only its output.
    /// </summary>
    public override bool TakeCpuPool(PoolFusion pool)
    {
        if (!Input.IsModelInput || _pre is not null || _spec.Stride != 1 || _spec.Filters > 8) return false;
        _pool = pool;
        return true;
    }

    public override IEnumerable<string> Initialize()
    {
        int fanIn = Input.Shape[2] * _spec.KernelHeight * _spec.KernelWidth, fanOut = _spec.Filters * _spec.KernelHeight * _spec.KernelWidth;
        yield return ActivationForms.UsesHeInit(Act)
            ? $"{Cpu}.Init.HeUniform({_weight.Property}, fanIn: {Int(fanIn)}, ref rng); // {_weight.Name} {_weight.ShapeText}, He (ReLU family)"
            : $"{Cpu}.Init.GlorotUniform({_weight.Property}, fanIn: {Int(fanIn)}, fanOut: {Int(fanOut)}, ref rng); // {_weight.Name} {_weight.ShapeText}, Glorot";
        if (_bias is not null) yield return $"{_bias.Property}.Clear(); // {_bias.Name} {_bias.ShapeText}, zeros";
    }

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string b = _bias?.Property ?? "default", z = _pre?.Property ?? "default";
        string act = ActivationForms.Struct(Act);
        string header = $"{Name}: {Summary}, {Input.Shape} → {Output.Shape}";
        string math = $"{Output.Ref}[B, {Output.Shape}] = {ActivationForms.Formula(Act, $"conv({Input.Ref}[B, {Input.Shape}], {_weight.Property}{_weight.ShapeText})" + (_bias is null ? "" : $" + {_bias.Property}"))}";
        var views = new List<string> { "y", "x", "w" };
        var args = new List<string> { Output.Ref, Input.Ref, _weight.Property };
        if (_pre is not null) { views.Insert(1, "z"); args.Insert(1, _pre.Property); }
        if (_bias is not null) { views.Add("b"); args.Add(_bias.Property); }
        string cpu = _pool is null
            ? $"{Cpu}.Conv2D.Forward<{Cpu}.{act}>({Output.Ref}, {z}, {Input.Ref}, {_weight.Property}, {b}, batch, {ShapeField});"
            : $"{Cpu}.Conv2D.ForwardMaxPool<{Cpu}.{act}>({_pool.Output.Ref}, {_pool.Argmax.Property}, {Output.Ref}, {Input.Ref}, " +
              $"{_weight.Property}, {b}, batch, {ShapeField}, {_pool.ShapeField});";
        if (_pool is not null)
            math += $"\nCPU: with the next layer's {_pool.Summary} in one kernel ({_pool.Output.Ref}, {_pool.Argmax.Property}; {Output.Ref} stays in the kernel)";
        yield return new Step($"{header}\n{math}", cpu,
            new GpuCall("Forward",
                $"{Gpu}.Conv2D.Forward<{Gpu}.{act}>(y, {(_pre is null ? "y" : "z")}, x, w, {(_bias is null ? "default" : "b")}, batch, new {Geometry}, {(_pre is null ? "false" : "true")})",
                views.ToArray(), args.ToArray(), $"{Gpu}.Conv2D.ForwardLaunch(batch, new {Geometry})"));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        string dy = Output.Grad!.Property;
        if (target == Target.Cpu && _pool is not null)
        {
            string dwPool = _weight.GradProperty, dbPool = _bias?.GradProperty ?? "default";
            yield return new Step($"{Name} backward, with the next layer's {_pool.Summary}: dz = {_pool.Output.Grad!.Property} at each window's maximum"
                + (Act != Activation.None ? $" ⊙ {Act}'({_pool.Output.Ref})" : "") + $";  {dwPool} = Σ_B,pixels dz ⊗ patches of {Input.Ref}"
                + (_bias is null ? "" : $";  {dbPool} = Σ dz"),
                $"{Cpu}.Conv2D.BackwardWeightsMaxPool<{Cpu}.{ActivationForms.Struct(Act)}>({dwPool}, {dbPool}, {dy}, {_pool.Output.Grad!.Property}, " +
                $"{_pool.Argmax.Property}, {_pool.Output.Ref}, {Output.Ref}, {Input.Ref}, batch, {ShapeField}, {_pool.ShapeField});",
                null);
            yield break;
        }
        if (Act != Activation.None)
        {
            yield return ActivationBackward(Act, _pre);
        }
        string dw = _weight.GradProperty, db = _bias?.GradProperty ?? "default";
        yield return new Step($"{Name} backward: {dw} = Σ_B,pixels dz ⊗ patches of {Input.Ref}" + (_bias is null ? "" : $";  {db} = Σ dz"),
            $"{Cpu}.Conv2D.BackwardWeights({dw}, {db}, {dy}, {Input.Ref}, batch, {ShapeField});",
            new GpuCall("BackwardWeights", $"{Gpu}.Conv2D.BackwardWeights(dw, {(_bias is null ? "default" : "db")}, dz, x, batch, new {Geometry})",
                _bias is null ? new[] { "dw", "dz", "x" } : new[] { "dw", "db", "dz", "x" },
                _bias is null ? new[] { dw, dy, Input.Ref } : new[] { dw, db, dy, Input.Ref },
                $"{Gpu}.Conv2D.BackwardWeightsLaunch(new {Geometry})"));
        if (Input.IsModelInput) yield break;
        string dx = Input.Grad!.Property;
        yield return new Step($"{Name} backward: {dx} = conv_transpose(dz, {_weight.Property})",
            $"{Cpu}.Conv2D.BackwardData({dx}, {dy}, {_weight.Property}, batch, {ShapeField});",
            new GpuCall("BackwardData", $"{Gpu}.Conv2D.BackwardData(dx, dz, w, batch, new {Geometry})", new[] { "dx", "dz", "w" },
                new[] { dx, dy, _weight.Property }, $"{Gpu}.Conv2D.BackwardDataLaunch(batch, new {Geometry})"));
    }
}
