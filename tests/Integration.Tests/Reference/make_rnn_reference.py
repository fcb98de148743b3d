"""Writes rnn_reference.json: loss, outputs and every gradient computed by PyTorch (float64) with nn.RNN (tanh),
nn.LSTM and nn.GRU (batch_first) and a final nn.Linear, for the recurrent models of RecurrentTests.cs, with the same
deterministic parameters, inputs and targets.

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_rnn_reference.py
Every parameter is loaded through the modules' own load_state_dict under the names our checkpoints use (a layer's
prefix + weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0; Dense's weight, bias), so the test also proves that our
names, shapes and gate orders (LSTM i, f, g, o; GRU r, z, n) are PyTorch's. The C# test loads the JSON: CI needs no PyTorch.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def value(i, k):
    # The same formula as RecurrentTests.Value in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


class Model(nn.Module):
    """A stack of recurrent layers (each returning every step but the last) and a linear head on the last step."""

    def __init__(self, features, layers, head):
        super().__init__()
        self.names = []
        self.recurrent = nn.ModuleList()
        for name, kind, units in layers:
            cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
            self.recurrent.append(cell(features, units, batch_first=True))
            self.names.append(name)
            features = units
        self.head_name, head_units = head
        self.head = nn.Linear(features, head_units)

    def named(self):
        """(our checkpoint name, parameter) in our arena's order."""
        for name, module in zip(self.names, self.recurrent):
            for p, tensor in module.named_parameters():
                yield f"{name}.{p}", tensor
        for p, tensor in self.head.named_parameters():
            yield f"{self.head_name}.{p}", tensor

    def forward(self, x):
        h = x
        for module in self.recurrent:
            h, _ = module(h)  # zero initial state
        return self.head(h[:, -1, :])


MODELS = {
    # name: (steps, features, [(prefix, cell, units)], (head prefix, outputs), batch, loss)
    "TinyLstm": (5, 3, [("layers.0", "lstm", 4)], ("layers.1", 2), 4, "sparse"),
    "TinyGru": (5, 3, [("layers.0", "gru", 4)], ("layers.1", 2), 4, "sparse"),
    "TinyRnn": (5, 3, [("rnn", "rnn", 4)], ("layers.1", 2), 4, "sparse"),
    "StackedLstm": (4, 3, [("layers.0", "lstm", 5), ("layers.1", "lstm", 3)], ("layers.2", 2), 3, "sparse"),
    "MixedStack": (4, 2, [("layers.0", "rnn", 3), ("layers.1", "gru", 4)], ("layers.2", 2), 3, "mse"),
}

out = {"torch": torch.__version__, "models": {}}
for name, (steps, features, layers, head, batch, loss_kind) in MODELS.items():
    model = Model(features, layers, head)
    named = list(model.named())
    # Load the deterministic values through load_state_dict with our names: the names and shapes must match.
    for k, (pname, tensor) in enumerate(named):
        n = tensor.numel()
        values = torch.tensor([value(i, k) for i in range(n)]).reshape(tensor.shape)
        module = dict(zip(model.names, model.recurrent)).get(pname.rsplit(".", 1)[0], model.head)
        module.load_state_dict({pname.rsplit(".", 1)[1]: values}, strict=False)
    x = torch.tensor([value(i, 100) for i in range(batch * steps * features)]).reshape(batch, steps, features)
    logits = model(x)
    if loss_kind == "sparse":
        targets = [float(i % 2) for i in range(batch)]
        loss = F.cross_entropy(logits, torch.tensor([int(t) for t in targets]))
        outputs = torch.softmax(logits, dim=1)
    else:
        targets = [value(i, 200) for i in range(logits.numel())]
        loss = F.mse_loss(logits, torch.tensor(targets).reshape(logits.shape))
        outputs = logits
    loss.backward()
    out["models"][name] = {
        "batch": batch,
        "names": [p for p, _ in named],
        "shapes": {p: list(t.shape) for p, t in named},
        "targets": targets,
        "loss": loss.item(),
        "outputs": outputs.flatten().tolist(),
        "gradients": {p: t.grad.flatten().tolist() for p, t in named},
    }

with open("rnn_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote rnn_reference.json:", ", ".join(out["models"]))
