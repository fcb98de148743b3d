using System.Collections.Generic;
using Compiled.Generator.Model;
using Compiled.Generator.Ops;
using static Compiled.Generator.Naming;

namespace Compiled.Generator.Layers;

/// <summary>The recurrent cells, PyTorch's modules: <c>nn.RNN</c> (tanh), <c>nn.LSTM</c>, <c>nn.GRU</c>.</summary>
internal enum RecurrentCell
{
    SimpleRnn,
    Lstm,
    Gru,
}

/// <summary><c>[SimpleRnn(units)]</c>, <c>[Lstm(units)]</c>, <c>[Gru(units)]</c> with <c>ReturnSequences</c> and <c>Name</c>, as read.</summary>
internal sealed record RecurrentSpec(int Index, string? Name, RecurrentCell Cell, int Units, bool ReturnSequences) : LayerSpec(Index, Name)
{
    public override string Kind => Cell.ToString();

    /// <summary>Gates G: the weights are [G·units, inputs] and [G·units, units], gates stacked as PyTorch stacks them.</summary>
    public int Gates => Cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 };

    /// <summary>Floats per unit per step the forward pass keeps (RNN: h; LSTM: i, f, g, o, c; GRU: r, z, n, W_hn·h + b_hn).</summary>
    public int Saved => Cell switch { RecurrentCell.Lstm => 5, RecurrentCell.Gru => 4, _ => 1 };

    /// <summary>The kernels' cell struct: <c>LstmCell</c>.</summary>
    public string CellStruct => Cell + "Cell";
}

/// <summary>
/// The layer table's rows for the recurrent layers (one instance per cell): a sequence <c>(T, F)</c> to the last hidden
/// state <c>(units)</c>, or with <c>ReturnSequences</c> every step's <c>(T, units)</c>.
/// </summary>
internal sealed class RecurrentLayer : LayerKind
{
    public static readonly RecurrentLayer SimpleRnnInstance = new(RecurrentCell.SimpleRnn);
    public static readonly RecurrentLayer LstmInstance = new(RecurrentCell.Lstm);
    public static readonly RecurrentLayer GruInstance = new(RecurrentCell.Gru);

    private readonly RecurrentCell _cell;

    private RecurrentLayer(RecurrentCell cell) => _cell = cell;

    public override string AttributeName => $"Compiled.{_cell}Attribute";

    public override LayerSpec? Read(AttributeReader reader, int index, string? name)
    {
        int units = reader.Int(0);
        bool sequences = reader.Named("ReturnSequences", false);
        if (units <= 0)
        {
            reader.Report(DiagnosticDescriptors.NonPositiveSize, $"The units of {_cell} layer {Int(index)}", Int(units));
            return null;
        }
        return new RecurrentSpec(index, name, _cell, units, sequences);
    }

    public override Shape? InferShape(LayerSpec layer, Shape input, ShapeCheck check)
    {
        var spec = (RecurrentSpec)layer;
        if (input.Rank != 2)
        {
            string got = input.Rank == 1 ? $"a flat input ({input})" : $"a {input} input";
            string fix = layer.Index == 0
                ? $"declare the input as a sequence of vectors, e.g. [Input(steps, {(input.Rank == 1 ? Int(input[0]) : "features")})]"
                : "give the recurrent layer before it ReturnSequences = true, or feed it a (steps, features) input";
            check.Mismatch($"{spec.Cell} needs a sequence input (steps, features), but layer {Int(layer.Index)} gets {got}; {fix}");
            return null;
        }
        return spec.ReturnSequences ? new Shape(input[0], spec.Units) : new Shape(spec.Units);
    }

    public override void Lower(LayerSpec layer, LoweringContext context)
    {
        var spec = (RecurrentSpec)layer;
        int steps = context.Input.Shape[0], features = context.Input.Shape[1], units = spec.Units, g = spec.Gates * units;
        var weights = new RecurrentWeights(
            context.Parameter("weight_ih_l0", g, features),
            context.Parameter("weight_hh_l0", g, units),
            context.Parameter("bias_ih_l0", g),
            context.Parameter("bias_hh_l0", g));
        var buffers = new RecurrentBuffers(
            context.Buffer("Projection", "input projection x·W_ihᵀ + b_ih of every step", steps * g, BufferRole.Activation),
            context.Buffer("Recurrent", "recurrent projection h·W_hhᵀ + b_hh of the current step", g, BufferRole.Activation),
            context.Buffer("States", "h_{t−1} of every step (row 0 zero)", steps * units, BufferRole.Activation),
            context.Buffer("Gates", "gate activations (and cell state) of every step", steps * spec.Saved * units, BufferRole.Activation),
            context.Buffer("GateGrad", "dL/d(gate pre-activations) of every step", steps * g, BufferRole.Gradient),
            spec.Cell == RecurrentCell.Gru
                ? context.Buffer("HiddenGateGrad", "dL/d(recurrent projection) of every step", steps * g, BufferRole.Gradient) : null,
            context.Buffer("HiddenGrad", "dL/dh through the recurrent product, one step", units, BufferRole.Gradient),
            context.Buffer("Carry", spec.Cell == RecurrentCell.Lstm ? "dL/dc carried to the step before" : "dL/dh carried directly to the step before",
                units, BufferRole.Gradient));
        Tensor output = context.OutputTensor(layer.Output);
        context.Add(new RecurrentOp(context.Plan, spec, context.Input, output, weights, buffers));
    }
}

/// <summary>A recurrent layer's parameters, in PyTorch's <c>state_dict</c> order.</summary>
internal sealed record RecurrentWeights(ParameterTensor Ih, ParameterTensor Hh, ParameterTensor BiasIh, ParameterTensor BiasHh);

/// <summary>A recurrent layer's workspace buffers.</summary>
internal sealed record RecurrentBuffers(Buffer Projection, Buffer Recurrent, Buffer States, Buffer Gates, Buffer GateGrad,
    Buffer? HiddenGateGrad, Buffer HiddenGrad, Buffer Carry);

/// <summary>
/// A recurrent layer over a batch_first sequence x [batch, T, F], zero initial state, PyTorch's math and layout.
/// Forward: xp = x·W_ihᵀ + b_ih for every step in one GEMM (the dense kernel over batch·T rows); then per step
/// hp = h_{t−1}·W_hhᵀ + b_hh (one GEMM) and the cell's gates in one fused pass. Backward (BPTT over the build-time T):
/// per step the gate gradients and dh_{t−1} = dg·W_hh; then dW_hh, db_hh from one GEMM over all steps (h_{t−1} is kept
/// per step), and dW_ih, db_ih and dx from the dense backward over batch·T rows.
/// </summary>
internal sealed class RecurrentOp : Op
{
    private readonly RecurrentSpec _spec;
    private readonly RecurrentWeights _w;
    private readonly RecurrentBuffers _b;

    public RecurrentOp(ModelPlan plan, RecurrentSpec spec, Tensor input, Tensor output, RecurrentWeights weights, RecurrentBuffers buffers)
        : base(plan, spec.LayerName, new[] { input }, output)
    {
        _spec = spec;
        _w = weights;
        _b = buffers;
    }

    private int Steps => Input.Shape[0];
    private int Features => Input.Shape[1];
    private int Units => _spec.Units;
    private int G => _spec.Gates * Units;
    private string Rows => $"batch * {Int(Steps)}";
    private string Sequences => _spec.ReturnSequences ? "true" : "false";

    public override LayerDescription Describe()
        => new(_spec.Kind, Activation.None, new[] { _w.Ih, _w.Hh, _w.BiasIh, _w.BiasHh },
            new[] { $"Units = {Int(Units)}", $"ReturnSequences = {Sequences}" });

    public override string Summary => $"{_spec.Cell}({Int(Units)}{(_spec.ReturnSequences ? ", sequences" : "")})";

    public override IEnumerable<string> Initialize()
    {
        // PyTorch: every weight and bias U(−1/√units, 1/√units).
        string limit = Float(1.0 / System.Math.Sqrt(Units));
        foreach (ParameterTensor p in new[] { _w.Ih, _w.Hh, _w.BiasIh, _w.BiasHh })
            yield return $"{Cpu}.Init.Uniform({p.Property}, {limit}, ref rng); // {p.Name} {p.ShapeText}, U(±1/√{Int(Units)}) as PyTorch";
    }

    public override bool AbsorbsGather => true;

    /// <summary>The sizes of the per-token projection: batch, steps, vocabulary, features, G.</summary>
    private string GatherSizes(ParameterTensor table) => $"batch, {Int(Steps)}, {Int(table.Shape[0])}, {Int(Features)}, {Int(G)}";

    public override IEnumerable<Step> Forward(Pass pass)
    {
        string xp = _b.Projection.Property, x = Input.Ref;
        string header = $"{Name}: {Summary}, {Input.Shape.Bracketed} → {Output.Shape.Bracketed}";
        string projection = $"{xp}[B·{Int(Steps)}, {Int(G)}] = {x}[B·{Int(Steps)}, {Int(Features)}] · {_w.Ih.Property}{_w.Ih.ShapeText}ᵀ + {_w.BiasIh.Property}";
        // x = table[ids]: with fewer tokens than rows, the product runs once per token, and each row copies its token's row.
        ParameterTensor? table = Gather?.GatheredTable;
        string ids = Gather?.Input.Ref ?? "";
        string cpu = table is null
            ? $"{Cpu}.Dense.Forward<{Cpu}.Identity>({xp}, default, {x}, {_w.Ih.Property}, {_w.BiasIh.Property}, {Rows}, {Int(Features)}, {Int(G)});"
            : $"{Cpu}.EmbeddedProjection.Forward({xp}, {x}, {ids}, {table.Property}, {_w.Ih.Property}, {_w.BiasIh.Property}, {GatherSizes(table)});";
        yield return new Step($"{header}\n{projection}   " + (table is null ? "(every step in one GEMM)"
                : $"(CPU, {x} = {table.Property}[{ids}]: when {Int(table.Shape[0])} < B·{Int(Steps)}, once per token as " +
                  $"{table.Property}{table.ShapeText} · {_w.Ih.Property}ᵀ + {_w.BiasIh.Property}, rows copied by id; else one GEMM)"),
            cpu,
            new GpuCall("Projection", $"{Gpu}.Dense.Forward<{Gpu}.Identity>(y, y, x, w, b, {Rows}, {Int(Features)}, {Int(G)}, false)",
                new[] { "y", "x", "w", "b" }, new[] { xp, x, _w.Ih.Property, _w.BiasIh.Property },
                $"{Gpu}.Launch.DenseForward({Rows}, {Int(G)})"));
        string sizes = $"batch, {Int(Steps)}, {Int(Units)}, {Sequences}";
        string y = Output.Ref, states = _b.States.Property, gates = _b.Gates.Property, hp = _b.Recurrent.Property;
        yield return new Step($"for t < {Int(Steps)}: {hp} = h_(t−1) · {_w.Hh.Property}{_w.Hh.ShapeText}ᵀ + {_w.BiasHh.Property};  {CellMath};  " +
                $"{y} = {(_spec.ReturnSequences ? "h_t of every step" : $"h_{Int(Steps - 1)}")}",
            $"{Cpu}.Recurrent.Forward<{Cpu}.{_spec.CellStruct}>({y}, {states}, {gates}, {hp}, {xp}, {_w.Hh.Property}, {_w.BiasHh.Property}, {sizes});",
            new GpuCall("Recurrence", $"{Gpu}.Recurrent.Forward<{Gpu}.{_spec.CellStruct}>(y, states, gates, hp, xp, w, b, {sizes})",
                new[] { "y", "states", "gates", "hp", "xp", "w", "b" }, new[] { y, states, gates, hp, xp, _w.Hh.Property, _w.BiasHh.Property },
                $"{Gpu}.Recurrent.Launch(batch, {Int(G)})"));
    }

    private string CellMath => _spec.Cell switch
    {
        RecurrentCell.Lstm => "i, f, g, o = σ, σ, tanh, σ(xp + hp);  c = f⊙c + i⊙g;  h = o⊙tanh(c)",
        RecurrentCell.Gru => "r, z = σ(xp + hp);  n = tanh(xp_n + r⊙hp_n);  h = (1−z)⊙n + z⊙h",
        _ => "h = tanh(xp + hp)",
    };

    public override IEnumerable<Step> Backward(Target target)
    {
        string dgx = _b.GateGrad.Property, dgh = _b.HiddenGateGrad?.Property ?? dgx;
        string sizes = $"batch, {Int(Steps)}, {Int(Units)}, {Sequences}";
        string dy = Output.Grad!.Property, states = _b.States.Property;
        yield return new Step($"{Name} backward, for t = {Int(Steps - 1)}..0: {dgx}[:, t] = dL/d(gates) from dh_t and the cell's carry;  " +
                $"dh_(t−1) = {dgh}[:, t] · {_w.Hh.Property}",
            $"{Cpu}.Recurrent.Backward<{Cpu}.{_spec.CellStruct}>({dgx}, {(_b.HiddenGateGrad is null ? "default" : dgh)}, {_b.HiddenGrad.Property}, " +
                $"{_b.Carry.Property}, {dy}, {_b.Gates.Property}, {states}, {_w.Hh.Property}, {sizes});",
            new GpuCall("BackwardSteps",
                $"{Gpu}.Recurrent.Backward<{Gpu}.{_spec.CellStruct}>(dgx, {(_b.HiddenGateGrad is null ? "dgx" : "dgh")}, dh, carry, dy, gates, states, w, {sizes})",
                _b.HiddenGateGrad is null
                    ? new[] { "dgx", "dh", "carry", "dy", "gates", "states", "w" }
                    : new[] { "dgx", "dgh", "dh", "carry", "dy", "gates", "states", "w" },
                _b.HiddenGateGrad is null
                    ? new[] { dgx, _b.HiddenGrad.Property, _b.Carry.Property, dy, _b.Gates.Property, states, _w.Hh.Property }
                    : new[] { dgx, dgh, _b.HiddenGrad.Property, _b.Carry.Property, dy, _b.Gates.Property, states, _w.Hh.Property },
                $"{Gpu}.Recurrent.Launch(batch, {Int(G)})"));

        string? dx = Input.IsModelInput ? null : Input.Grad!.Property;
        if (Gather?.GatheredTable is { } table)
        {
            // One gate gradient feeds both projections (dgh = dgx): the per-token step below sums it over the vocabulary's
            // rows for db_ih, and db_hh is a copy, not a second sum over every row.
            Step hidden = WeightStep("BackwardHidden", $"{Name} backward: {_w.Hh.GradProperty} = Σ_steps {dgh}ᵀ · h_(t−1);  " +
                    $"{_w.BiasHh.GradProperty} = Σ {dgh}   (one GEMM over B·{Int(Steps)} rows{(_b.HiddenGateGrad is null ? "; on the CPU the bias is db_ih's copy" : "")})",
                null, _w.Hh, _w.BiasHh, dgh, states, Units, cpuBias: _b.HiddenGateGrad is not null);
            yield return hidden;
            // The per-token backward also writes the table's gradient (the embedding's backward is empty on the CPU).
            string ids = Gather.Input.Ref;
            Step step = WeightStep("BackwardInput", $"{Name} backward: {_w.Ih.GradProperty} = Σ_steps {dgx}ᵀ · {Input.Ref};  " +
                    $"{_w.BiasIh.GradProperty} = Σ {dgx};  {dx} = {dgx} · {_w.Ih.Property}   (CPU, when {Int(table.Shape[0])} < B·{Int(Steps)}: " +
                    $"A[v] = Σ over {ids}[B, s] = v of {dgx}[B, s];  {_w.Ih.GradProperty} = Aᵀ · {table.Property};  " +
                    $"{_w.BiasIh.GradProperty} = Σ_v A;  {table.GradProperty} = A · {_w.Ih.Property}, in place of {dx})",
                dx, _w.Ih, _w.BiasIh, dgx, Input.Ref, Features);
            yield return step with
            {
                Cpu = $"{Cpu}.EmbeddedProjection.Backward({table.GradProperty}, {_w.Ih.GradProperty}, {_w.BiasIh.GradProperty}, {dx}, {dgx}, " +
                    $"{Input.Ref}, {ids}, {table.Property}, {_w.Ih.Property}, {GatherSizes(table)});",
            };
            if (_b.HiddenGateGrad is null)
                yield return new Step($"{Name} backward: {_w.BiasHh.GradProperty} = {_w.BiasIh.GradProperty}   (both are Σ {dgx})",
                    $"{_w.BiasIh.GradProperty}.CopyTo({_w.BiasHh.GradProperty});", null);
            yield break;
        }
        yield return WeightStep("BackwardHidden", $"{Name} backward: {_w.Hh.GradProperty} = Σ_steps {dgh}ᵀ · h_(t−1);  {_w.BiasHh.GradProperty} = Σ {dgh}   (one GEMM over B·{Int(Steps)} rows)",
            null, _w.Hh, _w.BiasHh, dgh, states, Units);
        yield return WeightStep("BackwardInput", $"{Name} backward: {_w.Ih.GradProperty} = Σ_steps {dgx}ᵀ · {Input.Ref};  {_w.BiasIh.GradProperty} = Σ {dgx}" +
                (dx is null ? "   (first layer: no input gradient)" : $";  {dx} = {dgx} · {_w.Ih.Property}"),
            dx, _w.Ih, _w.BiasIh, dgx, Input.Ref, Features);
    }

    /// <summary>dw = dzᵀ·x, db = Σ dz and (with <paramref name="dx"/>) dx = dz·w over batch·T rows: the dense backward.
    /// Without <paramref name="cpuBias"/> the CPU call leaves db to another step.</summary>
    private Step WeightStep(string kernel, string comment, string? dx, ParameterTensor w, ParameterTensor b, string dz, string x, int inputs,
        bool cpuBias = true)
    {
        string sizes = $"{Rows}, {Int(inputs)}, {Int(G)}";
        string cpu = $"{Cpu}.Dense.Backward({dx ?? "default"}, {w.GradProperty}, {(cpuBias ? b.GradProperty : "default")}, {dz}, {x}, {w.Property}, {sizes});";
        GpuCall gpu = dx is null
            ? new GpuCall(kernel, $"{Gpu}.Dense.BackwardWeights(dw, db, dz, x, {sizes})", new[] { "dw", "db", "dz", "x" },
                new[] { w.GradProperty, b.GradProperty, dz, x }, $"{Gpu}.Launch.DenseBackwardWeights({Int(inputs)}, {Int(G)})")
            : new GpuCall(kernel, $"{Gpu}.Dense.Backward<{Gpu}.Identity>(dx, dw, db, dz, x, w, x, x, {sizes})",
                new[] { "dx", "dw", "db", "dz", "x", "w" }, new[] { dx, w.GradProperty, b.GradProperty, dz, x, w.Property },
                $"{Gpu}.Launch.DenseBackward({Rows}, {Int(inputs)}, {Int(G)})");
        return new Step(comment, cpu, gpu);
    }
}
