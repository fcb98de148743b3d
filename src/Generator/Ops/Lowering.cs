using System.Linq;
using Compiled.Generator.Model;

namespace Compiled.Generator.Ops;

/// <summary>
/// Lowers a checked <see cref="ModelSpec"/> to a <see cref="ModelPlan"/>: the op list, the parameter arena
/// (PyTorch order: each layer's weight then bias) and the activation workspace.
/// </summary>
/// <remarks>
/// Workspace buffers are laid out per sample: buffer k occupies <c>[Offset_k · cap, (Offset_k + PerSample_k) · cap)</c>
/// for a workspace of capacity <c>cap</c> samples, so every buffer is a contiguous [batch, features] matrix for any
/// batch ≤ cap. No buffer is reused: the forward pass keeps every activation the backward pass reads.
/// </remarks>
internal static class Lowering
{
    public static ModelPlan Lower(ModelSpec spec)
    {
        var plan = new ModelPlan(spec);
        plan.InputSize = spec.InputShape.Aggregate(1, (a, b) => a * b);

        // Parameters first, in layer order, so the arena matches a PyTorch state_dict's order.
        var weights = new ParameterTensor[spec.Layers.Count];
        var biases = new ParameterTensor[spec.Layers.Count];
        int inputs = plan.InputSize;
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            string name = Naming.LayerName(layer);
            weights[i] = plan.AddParameter(name + ".weight", layer.Units, inputs);
            biases[i] = plan.AddParameter(name + ".bias", layer.Units);
            inputs = layer.Units;
        }

        // Then the workspace: forward buffers, then gradient buffers.
        string input = "x";
        inputs = plan.InputSize;
        WorkspaceBuffer? previousOutput = null;
        var outputs = new WorkspaceBuffer[spec.Layers.Count];
        var pres = new WorkspaceBuffer?[spec.Layers.Count];
        int last = spec.Layers.Count - 1;
        bool fused = ActivationForms.FusesInto(spec.Loss, spec.Layers[last].Activation);
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            string id = Naming.Identifier(Naming.LayerName(layer));
            bool isLast = i == last;
            pres[i] = ActivationForms.NeedsPreActivation(layer.Activation) || (isLast && fused)
                ? plan.AddBuffer(id + (layer.Activation == Activation.Softmax || isLast && fused ? "Logits" : "Pre"),
                    $"{Naming.LayerName(layer)} pre-activation z", layer.Units)
                : null;
            outputs[i] = isLast
                ? plan.AddBuffer("output", "the model's output" + (fused ? $" ({layer.Activation} of the logits)" : ""), layer.Units)
                : plan.AddBuffer(id + "Out", $"{Naming.LayerName(layer)} output y", layer.Units);
        }
        var grads = new WorkspaceBuffer[spec.Layers.Count];
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            string id = Naming.Identifier(Naming.LayerName(layer));
            grads[i] = plan.AddBuffer(id + "Grad", $"dL/d{Naming.LayerName(layer)} (output, then pre-activation)", layer.Units);
        }

        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            plan.Ops.Add(new DenseOp(Naming.LayerName(layer), inputs, layer.Units, layer.Activation,
                fusedIntoLoss: i == last && fused, layer.L2, weights[i], biases[i],
                input, i == 0 ? null : grads[i - 1], outputs[i], pres[i], grads[i]));
            previousOutput = outputs[i];
            input = previousOutput.Local;
            inputs = layer.Units;
        }

        plan.OutputSize = spec.Layers[last].Units;
        plan.LossOp = new LossOp(spec.Loss, fused, fused ? pres[last]! : outputs[last], outputs[last], grads[last], plan.OutputSize);
        plan.TargetSize = plan.LossOp.TargetSize;
        return plan;
    }
}
