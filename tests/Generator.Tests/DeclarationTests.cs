using Microsoft.CodeAnalysis;

namespace Compiled.Generator.Tests;

public class DeclarationSurvey
{
    private const string Body = "[Input(4)] [Dense(3, Activation.Relu)] [Dense(2, Activation.Softmax)] [Loss(Loss.SparseCategoricalCrossEntropy)]";

    public static TheoryData<string> Sources => new()
    {
        $"{Body} public partial class @class; {Body} public partial class Net;",
        $"{Body} public partial class Résumé;",
        $"{Body} public partial class 模型;",
        $"public partial class Outer {{ {Body} public partial class Inner; }}",
        $"public partial class Outer<T> {{ {Body} public partial class Inner; }}",
        $"namespace A.B {{ {Body} public partial class Net; }}",
        $"namespace A.B; {Body} public partial class Net;",
        $"namespace A {{ {Body} public partial class Net; }} namespace B {{ {Body} public partial class Net; }}",
        $"namespace A {{ public partial class B {{ {Body} public partial class Net; }} }} namespace A.B {{ {Body} public partial class Net; }}",
        $"{Body} public partial class Net; {Body} public partial class NET;",
        $"namespace @class.@int {{ {Body} public partial class @void; }}",
        $"public partial class @event {{ {Body} public partial class @int; }}",
        $"{Body} public partial class Loss;",
        $"{Body} public partial class Parameters;",
        $"{Body} public partial class Forward;",
        $"{Body} public partial class Output;",
        $"{Body} public partial class model;",
        $"{Body} public partial class GpuTwin;",
        $"{Body} public partial class Layers0Weight;",
        $"{Body} public partial class M(string name);",
        $"{Body} public partial class M();",
        $"public class B {{ public B(int a) {{ }} }} {Body} public partial class M : B;",
        $"public class B {{ private B() {{ }} public B(int a) {{ }} }} {Body} public partial class M : B;",
        $"public class B {{ public int InputSize; }} {Body} public partial class M : B;",
        $"public class B {{ public void Forward() {{ }} }} {Body} public partial class M : B;",
        $"public class B {{ protected int Layers0Weight; }} {Body} public partial class M : B;",
        $"public class B {{ public virtual void Initialize(int seed) {{ }} }} {Body} public partial class M : B;",
        $"{Body} public partial class M {{ public int Random; }}",
        $"{Body} public static partial class M;",
        $"{Body} public abstract partial class M;",
        $"{Body} public partial struct M;",
        $"{Body} public partial record M;",
        $"{Body} public partial class M<T>;",
        "[Input(4)] [Dense(3, Name = \"x\")] [Dense(2, Name = \"dX\")] [Loss(Loss.MeanSquaredError)] public partial class M;",
        "[Input(4)] [Dense(3)] [Dense(2, Name = \"dLayers.0\")] [Loss(Loss.MeanSquaredError)] public partial class M;",
        "[Input(4,4,1)] [Conv2D(2, 3, Activation.Relu, Name = \"a\")] [Flatten] [Dense(2, Name = \"aActivation\")] [Loss(Loss.MeanSquaredError)] public partial class M;",
        "[Input(4)] [Dense(3, Name = \"loss\")] [Dense(2, Name = \"seed\")] [Loss(Loss.MeanSquaredError)] public partial class M;",
        "[Input(4)] [Dense(3, Name = \"x\")] [Dense(2, Name = \"t\")] [Loss(Loss.MeanSquaredError)] public partial class x;",
        $"namespace Cpu {{ {Body} public partial class M; }}",
        $"namespace Gpu.View {{ {Body} public partial class M; }}",
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void Survey(string source)
    {
        foreach (bool gpu in new[] { false, true })
        {
            var (result, output) = GeneratorHarness.Run(gpu, "using Compiled;\n" + source);
            var cmp = result.Diagnostics.Where(d => d.Id.StartsWith("CMP")).ToList();
            var bad = output.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
            string line = $"gpu={gpu} files={result.GeneratedTrees.Length} CMP=[{string.Join("; ", cmp.Select(d => d.Id + " " + d.GetMessage()))}] compiler=[{string.Join("; ", bad.Select(d => d.Id + " " + d.GetMessage()).Take(3))}]";
            File.AppendAllText("/tmp/gencheck/survey.txt", source + "\n   " + line + "\n");
        }
    }
}
