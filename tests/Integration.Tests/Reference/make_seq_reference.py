"""Writes seq_reference.json: loss, outputs and every gradient computed by PyTorch (float64) for the sequence models of
SeqReferenceTests.cs (nn.Embedding, then nn.Linear applied at every step, then a loss over every step), with the same
deterministic parameters, token ids and targets.

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_seq_reference.py
Our Embedding weight is [vocabulary, width] and Dense weights [out, in], as PyTorch's, so the parameters below are the
arena as it is. Per-step losses are PyTorch's on (N·T, C) rows: the mean over batch·steps.
The C# test loads the JSON, so CI needs no PyTorch.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def value(i, k):
    # The same formula as SeqReferenceTests.Value in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


def tensor(shape, k):
    n = math.prod(shape)
    return torch.tensor([value(i, k) for i in range(n)]).reshape(shape).requires_grad_(True)


def token(i, vocabulary):
    # The same formula as SeqReferenceTests.Token in C#.
    return (7 * i + 3) % vocabulary


def bigram(ids, p):
    # [Input(6)] [Embedding(7, 4)] [Dense(7, Softmax)], sparse CE per step
    h = F.embedding(ids, p["layers.0.weight"])
    return F.linear(h, p["layers.1.weight"], p["layers.1.bias"])


def hidden(ids, p):
    # [Input(5)] [Embedding(6, 3)] [Dense(8, Tanh)] [Dense(4, Softmax)], categorical CE (probability targets) per step
    h = F.embedding(ids, p["layers.0.weight"])
    h = torch.tanh(F.linear(h, p["layers.1.weight"], p["layers.1.bias"]))
    return F.linear(h, p["layers.2.weight"], p["layers.2.bias"])


def regression(ids, p):
    # [Input(4)] [Embedding(5, 4)] [Dense(3)], mean squared error over every step and output
    h = F.embedding(ids, p["layers.0.weight"])
    return F.linear(h, p["layers.1.weight"], p["layers.1.bias"])


# name: (function, steps, vocabulary, classes, loss, batch, parameter shapes)
MODELS = {
    "SeqBigramReference": (bigram, 6, 7, 7, "sparse", 3, [("layers.0.weight", (7, 4)), ("layers.1.weight", (7, 4)),
                                                          ("layers.1.bias", (7,))]),
    "SeqHiddenReference": (hidden, 5, 6, 4, "categorical", 2, [("layers.0.weight", (6, 3)), ("layers.1.weight", (8, 3)),
                                                               ("layers.1.bias", (8,)), ("layers.2.weight", (4, 8)),
                                                               ("layers.2.bias", (4,))]),
    "SeqRegressionReference": (regression, 4, 5, 3, "mse", 3, [("layers.0.weight", (5, 4)), ("layers.1.weight", (3, 4)),
                                                               ("layers.1.bias", (3,))]),
}

out = {"torch": torch.__version__, "models": {}}
for name, (fn, steps, vocabulary, classes, kind, batch, shapes) in MODELS.items():
    params = {pname: tensor(shape, k) for k, (pname, shape) in enumerate(shapes)}
    ids = torch.tensor([token(i, vocabulary) for i in range(batch * steps)]).reshape(batch, steps)
    z = fn(ids, params)  # [batch, steps, classes]
    rows = z.reshape(batch * steps, classes)
    if kind == "sparse":
        targets = [(5 * i + 2) % classes for i in range(batch * steps)]
        loss = F.cross_entropy(rows, torch.tensor(targets))
        outputs = torch.softmax(rows, dim=1)
    elif kind == "categorical":
        t = torch.softmax(torch.tensor([value(i, 200) * 4 for i in range(batch * steps * classes)]).reshape(-1, classes), dim=1)
        targets = t.flatten().tolist()
        loss = F.cross_entropy(rows, t)
        outputs = torch.softmax(rows, dim=1)
    else:
        targets = [value(i, 300) for i in range(batch * steps * classes)]
        loss = F.mse_loss(rows, torch.tensor(targets).reshape(-1, classes))
        outputs = rows
    loss.backward()
    out["models"][name] = {
        "batch": batch,
        "ids": ids.flatten().tolist(),
        "targets": targets,
        "loss": loss.item(),
        "outputs": outputs.flatten().tolist(),
        "gradients": {pname: p.grad.flatten().tolist() for pname, p in params.items()},
    }

with open("seq_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote seq_reference.json:", ", ".join(out["models"]))
