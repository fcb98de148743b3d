using System.Collections.Generic;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary><c>[MaxPool2D]</c> / <c>[AvgPool2D]</c> as read: the window, the stride (the window's size by default) and the padding.</summary>
internal sealed record Pool2DSpec(int Index, string? Name, bool Max, int PoolHeight, int PoolWidth, int Stride, Padding Padding)
    : LayerSpec(Index, Name)
{
    public override string Kind => Max ? "MaxPool2D" : "AvgPool2D";
}

/// <summary>The layer table's rows for <c>[MaxPool2D]</c> and <c>[AvgPool2D]</c>: an image to a smaller one, channels kept.</summary>
internal sealed class Pool2DLayer : LayerKind
{
    public static readonly Pool2DLayer MaxInstance = new(max: true);
    public static readonly Pool2DLayer AvgInstance = new(max: false);

    private readonly bool _max;

    private Pool2DLayer(bool max) => _max = max;

    private string Display => _max ? "MaxPool2D" : "AvgPool2D";

    public override string AttributeName => $"Compiled.{Display}Attribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int before = reader.DiagnosticCount;
        int ph = reader.Parameter("poolSize") >= 0 ? reader.Int(0) : reader.Int(reader.Parameter("poolHeight"));
        int pw = reader.Parameter("poolSize") >= 0 ? reader.Int(0) : reader.Int(reader.Parameter("poolWidth"));
        int stride = reader.Named("Stride", 0);
        Padding padding = reader.NamedEnum("Padding", Padding.Valid);
        if (ph <= 0 || pw <= 0)
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The window of {Display} layer {Int(index)}", $"{Int(ph)}x{Int(pw)}");
        if (stride < 0)
            reader.Report(DiagnosticDescriptors.InvalidArgument, $"The stride of {Display} layer {Int(index)} must be at least 1 (or 0 for the window's size), but it is {Int(stride)}");
        if (reader.HasErrors(before)) return null;
        if (stride == 0 && ph != pw)
        {
            reader.Report(DiagnosticDescriptors.InvalidArgument,
                $"{Display} layer {Int(index)} has a {Int(ph)}x{Int(pw)} window: give its Stride, since a default stride follows a square window");
            return null;
        }
        return new Pool2DSpec(index, name, _max, ph, pw, stride == 0 ? ph : stride, padding);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        var spec = (Pool2DSpec)layer;
        if (input.Rank != 3)
        {
            check.Mismatch($"{spec.Kind} needs an image input (height, width, channels), but layer {Int(layer.Index)} gets {input}");
            return null;
        }
        bool same = spec.Padding == Padding.Same;
        if (!same && (input[0] < spec.PoolHeight || input[1] < spec.PoolWidth))
        {
            check.Mismatch($"{spec.Kind} window {Int(spec.PoolHeight)}x{Int(spec.PoolWidth)} does not fit the {input} input of layer {Int(layer.Index)}; " +
                "use a smaller window, Padding = Padding.Same, or fewer pooling layers");
            return null;
        }
        return new Shape(Conv.OutputSize(input[0], spec.PoolHeight, spec.Stride, same), Conv.OutputSize(input[1], spec.PoolWidth, spec.Stride, same), input[2]);
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (Pool2DSpec)layer;
        Buffer? argmax = spec.Max
            ? context.Buffer("Argmax", "index of each window's maximum", (int)layer.Output.Size, BufferRole.Saved, isInt: true) : null;
        Tensor output = context.OutputTensor(layer.Output);
        context.Add(new Pool2DOp(context.Plan, spec, context.Input, output, argmax));
    }
}

/// <summary>
/// Max or average pooling over NHWC activations; channels are pooled independently. Max pooling keeps the index of each
/// window's maximum for backward (dx gets dy there); average pooling spreads dy evenly over the taps inside the image.
/// </summary>
internal sealed class Pool2DOp : Op
{
    private readonly Pool2DSpec _spec;
    private readonly Buffer? _argmax;

    public Pool2DOp(ModelPlan plan, Pool2DSpec spec, Tensor input, Tensor output, Buffer? argmax)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _argmax = argmax;
    }

    public override string Summary =>
        $"{_spec.Kind}({Int(_spec.PoolHeight)}x{Int(_spec.PoolWidth)}" +
        (_spec.Stride != _spec.PoolHeight ? $", stride {Int(_spec.Stride)}" : "") + (_spec.Padding == Padding.Same ? ", same" : "") + ")";

    public override LayerDescription Describe()
        => new(_spec.Kind, Activation.None, System.Array.Empty<ParameterTensor>(), new[]
        {
            $"KernelHeight = {Int(_spec.PoolHeight)}", $"KernelWidth = {Int(_spec.PoolWidth)}", $"Stride = {Int(_spec.Stride)}",
            $"Padding = global::Compiled.Padding.{_spec.Padding}",
        });

    private string Geometry
    {
        get
        {
            Shape i = Input.Shape, o = Output.Shape;
            bool same = _spec.Padding == Padding.Same;
            int top = Conv.PadBefore(i[0], _spec.PoolHeight, _spec.Stride, same), left = Conv.PadBefore(i[1], _spec.PoolWidth, _spec.Stride, same);
            return $"{Cpu}.Pool2DShape({Int(i[0])}, {Int(i[1])}, {Int(i[2])}, {Int(_spec.PoolHeight)}, " +
                $"{Int(_spec.PoolWidth)}, {Int(_spec.Stride)}, {Int(_spec.Stride)}, {Int(top)}, {Int(left)}, {Int(o[0])}, {Int(o[1])})";
        }
    }

    private string ShapeField => $"s_{Naming.Identifier(Name)}Shape";

    /// <summary>Max pooling whose windows tile the input: its producer may run it.</summary>
    public override PoolFusion? FusablePool =>
        _argmax is not null && _spec.Padding == Padding.Valid && _spec.Stride == _spec.PoolHeight && _spec.Stride == _spec.PoolWidth
            ? new PoolFusion(Output, _argmax, ShapeField, Summary) : null;

    public override IEnumerable<string> Declarations()
    {
        yield return $"private static readonly {Geometry.Replace("Pool2DShape(", "Pool2DShape " + ShapeField + " = new(")};";
    }

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string header = $"{Name}: {Summary}, {Input.Shape} → {Output.Shape}";
        if (_argmax is not null)
        {
            yield return new Step($"{header}\n{Output.Ref}[B, {Output.Shape}] = max over each window of {Input.Ref};  {_argmax.Property} = where",
                CpuRunByProducer ? null : $"{Cpu}.Pooling.MaxForward({Output.Ref}, {_argmax.Property}, {Input.Ref}, batch, {ShapeField});",
                new GpuCall("Forward", $"{Gpu}.Pooling.MaxForward(y, argmax, x, batch, new {Geometry})", new[] { "y", "argmax", "x" },
                    new[] { Output.Ref, _argmax.Property, Input.Ref }, $"{Gpu}.Pooling.ForwardLaunch(batch, new {Geometry})", IntViews: new[] { "argmax" }));
            yield break;
        }
        yield return new Step($"{header}\n{Output.Ref}[B, {Output.Shape}] = mean over each window of {Input.Ref} (taps inside the image)",
            $"{Cpu}.Pooling.AvgForward({Output.Ref}, {Input.Ref}, batch, {ShapeField});",
            new GpuCall("Forward", $"{Gpu}.Pooling.AvgForward(y, x, batch, new {Geometry})", new[] { "y", "x" },
                new[] { Output.Ref, Input.Ref }, $"{Gpu}.Pooling.ForwardLaunch(batch, new {Geometry})"));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        if (Input.IsModelInput || (target == Target.Cpu && CpuRunByProducer)) yield break;
        string dx = Input.Grad!.Property, dy = Output.Grad!.Property;
        if (_argmax is not null)
        {
            yield return new Step($"{Name} backward: {dx} = {dy} at each window's maximum, 0 elsewhere",
                $"{Cpu}.Pooling.MaxBackward({dx}, {dy}, {_argmax.Property}, batch, {ShapeField});",
                new GpuCall("Backward", $"{Gpu}.Pooling.MaxBackward(dx, dy, argmax, batch, new {Geometry})", new[] { "dx", "dy", "argmax" },
                    new[] { dx, dy, _argmax.Property }, $"{Gpu}.Pooling.BackwardLaunch(batch, new {Geometry})", IntViews: new[] { "argmax" }));
            yield break;
        }
        yield return new Step($"{Name} backward: {dx} = {dy} / taps, spread over each window",
            $"{Cpu}.Pooling.AvgBackward({dx}, {dy}, batch, {ShapeField});",
            new GpuCall("Backward", $"{Gpu}.Pooling.AvgBackward(dx, dy, batch, new {Geometry})", new[] { "dx", "dy" },
                new[] { dx, dy }, $"{Gpu}.Pooling.BackwardLaunch(batch, new {Geometry})"));
    }
}

/// <summary><c>[GlobalAveragePool2D]</c> as read.</summary>
internal sealed record GlobalAveragePool2DSpec(int Index, string? Name) : LayerSpec(Index, Name)
{
    public override string Kind => "GlobalAveragePool2D";
}

/// <summary>The layer table's row for <c>[GlobalAveragePool2D]</c>: <c>(H, W, C)</c> to <c>(C)</c>.</summary>
internal sealed class GlobalAveragePool2DLayer : LayerKind
{
    public static readonly GlobalAveragePool2DLayer Instance = new();

    public override string AttributeName => "Compiled.GlobalAveragePool2DAttribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name) => new GlobalAveragePool2DSpec(index, name);

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        if (input.Rank == 3) return new Shape(input[2]);
        check.Mismatch($"GlobalAveragePool2D needs an image input (height, width, channels), but layer {Int(layer.Index)} gets {input}");
        return null;
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
        => context.Add(new GlobalAveragePool2DOp(context.Plan, layer, context.Input, context.OutputTensor(layer.Output)));
}

/// <summary>The mean of each channel over the image: y[b, c] = mean over (h, w) of x[b, h, w, c]; backward spreads dy evenly.</summary>
internal sealed class GlobalAveragePool2DOp : Op
{
    public GlobalAveragePool2DOp(ModelPlan plan, LayerSpec spec, Tensor input, Tensor output)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
    }

    public override string Summary => "GlobalAveragePool2D";

    public override LayerDescription Describe()
        => new("GlobalAveragePool2D", Activation.None, System.Array.Empty<ParameterTensor>(), System.Array.Empty<string>());

    private string Sizes => $"batch, {Int(Input.Shape[0])}, {Int(Input.Shape[1])}, {Int(Input.Shape[2])}";

    public override IEnumerable<Step> Forward(Pass pass)
    {
        yield return new Step($"{Name}: {Summary}, {Input.Shape} → {Output.Shape}\n{Output.Ref}[B, {Output.Shape}] = mean over pixels of {Input.Ref}",
            $"{Cpu}.Pooling.GlobalAvgForward({Output.Ref}, {Input.Ref}, {Sizes});",
            new GpuCall("Forward", $"{Gpu}.Pooling.GlobalAverageForward(y, x, {Sizes})", new[] { "y", "x" }, new[] { Output.Ref, Input.Ref },
                $"{Gpu}.Pooling.GlobalAverageForwardLaunch(batch, {Int(Input.Shape[2])})"));
    }

    public override IEnumerable<Step> Backward(Target target)
    {
        if (Input.IsModelInput) yield break;
        string dx = Input.Grad!.Property, dy = Output.Grad!.Property;
        yield return new Step($"{Name} backward: {dx} = {dy} / (H·W) at every pixel",
            $"{Cpu}.Pooling.GlobalAvgBackward({dx}, {dy}, {Sizes});",
            new GpuCall("Backward", $"{Gpu}.Pooling.GlobalAverageBackward(dx, dy, {Sizes})", new[] { "dx", "dy" }, new[] { dx, dy },
                $"{Gpu}.Pooling.GlobalAverageBackwardLaunch({Sizes})"));
    }
}
