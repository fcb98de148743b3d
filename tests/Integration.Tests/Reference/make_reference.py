"""Writes pytorch_reference.json: losses, outputs and gradients computed by PyTorch (float64) for the small
models declared in ReferenceModels.cs, with the same deterministic parameters, inputs and targets.

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py
The C# test (PyTorchReferenceTests) loads the JSON, so CI needs no PyTorch.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# name: (inputs, [(units, activation, l2)], loss, batch) -- must match ReferenceModels.cs
MODELS = {
    "ReluSoftmaxSparse": (5, [(7, "relu", 0.0), (4, "softmax", 0.0)], "sparse_ce", 6),
    "GeluTanhSoftmaxOneHot": (6, [(8, "gelu", 0.0), (5, "tanh", 0.0), (3, "softmax", 0.0)], "ce", 5),
    "LeakySigmoidBinary": (4, [(6, "leaky_relu", 0.01), (2, "sigmoid", 0.0)], "bce", 7),
    "SigmoidLinearMse": (3, [(5, "sigmoid", 0.0), (2, "none", 0.0)], "mse", 4),
    "TanhSoftmaxMse": (4, [(6, "tanh", 0.0), (3, "softmax", 0.0)], "mse", 3),
}


def param(i, k):
    # The same formula as ReferenceModels.Parameter in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


def feature(i):
    return math.cos(0.13 * i) + 0.25 * math.sin(0.7 * i)


def act(name, z):
    return {
        "relu": torch.relu,
        "leaky_relu": lambda v: F.leaky_relu(v, 0.01),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": lambda v: F.gelu(v, approximate="tanh"),
        "softmax": lambda v: torch.softmax(v, dim=1),
        "none": lambda v: v,
    }[name](z)


def run(name, spec):
    inputs, layers, loss_name, batch = spec
    params = []
    k = 0
    width = inputs
    flat = 0
    for index, (units, _, _) in enumerate(layers):
        w = torch.tensor([[param(flat + o * width + i, k) for i in range(width)] for o in range(units)], requires_grad=True)
        flat += units * width
        b = torch.tensor([param(flat + o, k) for o in range(units)], requires_grad=True)
        flat += units
        params.append((f"layers.{index}.weight", w))
        params.append((f"layers.{index}.bias", b))
        width = units
    x = torch.tensor([[feature(r * inputs + c) for c in range(inputs)] for r in range(batch)])
    outputs = layers[-1][0]

    h = x
    for index, (units, activation, _) in enumerate(layers):
        w = params[2 * index][1]
        b = params[2 * index + 1][1]
        z = h @ w.T + b
        last = index == len(layers) - 1
        if last and loss_name in ("sparse_ce", "ce", "bce"):
            logits = z
            h = act(activation, z)
        else:
            h = act(activation, z)
    if loss_name == "sparse_ce":
        labels = [r % outputs for r in range(batch)]
        targets = torch.tensor(labels, dtype=torch.long)
        loss = F.cross_entropy(logits, targets)
        target_values = [float(l) for l in labels]
    elif loss_name == "ce":
        t = torch.zeros(batch, outputs)
        for r in range(batch):
            t[r, (2 * r + 1) % outputs] = 1.0
        loss = -(t * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        target_values = t.flatten().tolist()
    elif loss_name == "bce":
        t = torch.tensor([[float((r + c) % 2) for c in range(outputs)] for r in range(batch)])
        loss = F.binary_cross_entropy_with_logits(logits, t)
        target_values = t.flatten().tolist()
    else:
        t = torch.tensor([[math.sin(0.5 * (r * outputs + c)) for c in range(outputs)] for r in range(batch)])
        loss = F.mse_loss(h, t)
        target_values = t.flatten().tolist()
    for index, (_, _, l2) in enumerate(layers):
        if l2 > 0:
            loss = loss + l2 * (params[2 * index][1] ** 2).sum()
    loss.backward()
    return {
        "batch": batch,
        "targets": target_values,
        "loss": loss.item(),
        "outputs": h.detach().flatten().tolist(),
        "gradients": {n: p.grad.flatten().tolist() for n, p in params},
    }


if __name__ == "__main__":
    result = {"torch": torch.__version__, "models": {n: run(n, s) for n, s in MODELS.items()}}
    with open("pytorch_reference.json", "w") as f:
        json.dump(result, f, indent=1)
    print("wrote pytorch_reference.json for", ", ".join(MODELS))
