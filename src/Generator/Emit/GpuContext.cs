using System.Collections.Generic;
using System.Linq;

namespace Compiled.Generator.Emit;

/// <summary>One ILGPU kernel of a model: a static method whose body is one device-function call with literal sizes.</summary>
/// <param name="Name">The kernel's name without the <c>Gpu</c> prefix (<c>Layers0Forward</c>); the loaded delegate's field name.</param>
/// <param name="Comment">The math it does, for the comment above it.</param>
/// <param name="Views">Its <c>ArrayView&lt;float&gt;</c> parameters, in order.</param>
/// <param name="Scalar">Its trailing int parameter (<c>batch</c>, <c>count</c>), or null.</param>
/// <param name="Body">The device-function call.</param>
internal sealed record GpuKernel(string Name, string Comment, string[] Views, string? Scalar, string Body);

/// <summary>
/// Collects the kernels of one model while its ops write their launches: an op calls <see cref="Launch"/> with the
/// kernel it needs, the kernel is declared once (in order of first use), and the launch line is written.
/// </summary>
internal sealed class GpuContext
{
    public const string View = "global::ILGPU.ArrayView<float>";
    public const string Launches = "global::Compiled.Gpu.CompilerServices.Launch";
    public const string Kernels = "global::Compiled.Gpu.CompilerServices";

    private readonly Dictionary<string, GpuKernel> _byName = new();

    public List<GpuKernel> Declared { get; } = new();

    public CodeWriter Writer { get; set; } = new();

    /// <summary>Writes <c>_k.Name(config, args..., scalar);</c> and declares the kernel on first use.</summary>
    public void Launch(GpuKernel kernel, string config, string[] args, string? scalar = null)
    {
        if (!_byName.ContainsKey(kernel.Name))
        {
            _byName.Add(kernel.Name, kernel);
            Declared.Add(kernel);
        }
        IEnumerable<string> all = new[] { config }.Concat(args);
        if (kernel.Scalar is not null) all = all.Concat(new[] { scalar ?? kernel.Scalar });
        Writer.Line($"_k.{kernel.Name}({string.Join(", ", all)});");
    }

    /// <summary>The GPU activation struct of an activation (Softmax has kernels of its own; None is Identity).</summary>
    public static string Activation(Activation activation) => Kernels + "." + activation switch
    {
        global::Compiled.Activation.Relu => "Relu",
        global::Compiled.Activation.LeakyRelu => "LeakyRelu",
        global::Compiled.Activation.Sigmoid => "Sigmoid",
        global::Compiled.Activation.Tanh => "Tanh",
        global::Compiled.Activation.Gelu => "Gelu",
        _ => "Identity",
    };
}
