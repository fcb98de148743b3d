"""Writes cnn_reference.json: loss, outputs and every gradient computed by PyTorch (float64, NCHW) for the
convolutional models of CnnReferenceTests.cs, with the same deterministic parameters, inputs and targets.

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_cnn_reference.py
Our models take NHWC images and store conv weights as PyTorch's [out, in, kh, kw], and Flatten writes PyTorch's
(C, H, W) order, so the parameters below are the arena as it is, and the inputs are permuted to NCHW here.
The C# test loads the JSON, so CI needs no PyTorch.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def value(i, k):
    # The same formula as CnnReferenceTests.Value in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


def tensor(shape, k):
    n = math.prod(shape)
    return torch.tensor([value(i, k) for i in range(n)]).reshape(shape).requires_grad_(True)


def tiny(x, p):
    # [Input(6,6,2)] [Conv2D(3, 3, Tanh)] [MaxPool2D(2)] [Flatten] [Dense(3, Softmax)], sparse CE
    h = torch.tanh(F.conv2d(x, p["layers.0.weight"], p["layers.0.bias"]))
    h = F.max_pool2d(h, 2)
    h = torch.flatten(h, 1)
    return F.linear(h, p["layers.3.weight"], p["layers.3.bias"])


def same(x, p):
    # [Input(8,8,3)] [Conv2D(4, 3, Relu, Padding=Same)] [AvgPool2D(2)] [Conv2D(5, 3, Gelu, UseBias=false)]
    # [GlobalAveragePool2D] [Dense(3, Softmax)], sparse CE
    h = torch.relu(F.conv2d(x, p["layers.0.weight"], p["layers.0.bias"], padding=1))
    h = F.avg_pool2d(h, 2)
    h = F.gelu(F.conv2d(h, p["layers.2.weight"]), approximate="tanh")
    h = h.mean(dim=(2, 3))
    return F.linear(h, p["layers.4.weight"], p["layers.4.bias"])


def pooled(x, p):
    # [Input(12,12,1)] [Conv2D(4, 3, Relu, Padding=Same)] [MaxPool2D(2)] [Flatten] [Dense(3, Softmax)], sparse CE:
    # a first convolution our CPU runs together with its max pooling (Conv2D.ForwardMaxPool).
    h = torch.relu(F.conv2d(x, p["layers.0.weight"], p["layers.0.bias"], padding=1))
    h = F.max_pool2d(h, 2)
    h = torch.flatten(h, 1)
    return F.linear(h, p["layers.3.weight"], p["layers.3.bias"])


MODELS = {
    "TinyCnnReference": (tiny, (6, 6, 2), 4, [("layers.0.weight", (3, 2, 3, 3)), ("layers.0.bias", (3,)),
                                              ("layers.3.weight", (3, 12)), ("layers.3.bias", (3,))]),
    "SameCnnReference": (same, (8, 8, 3), 3, [("layers.0.weight", (4, 3, 3, 3)), ("layers.0.bias", (4,)),
                                              ("layers.2.weight", (5, 4, 3, 3)),
                                              ("layers.4.weight", (3, 5)), ("layers.4.bias", (3,))]),
    "PooledCnnReference": (pooled, (12, 12, 1), 3, [("layers.0.weight", (4, 1, 3, 3)), ("layers.0.bias", (4,)),
                                                    ("layers.3.weight", (3, 144)), ("layers.3.bias", (3,))]),
}

out = {"torch": torch.__version__, "models": {}}
for name, (fn, (h, w, c), batch, shapes) in MODELS.items():
    params = {pname: tensor(shape, k) for k, (pname, shape) in enumerate(shapes)}
    x_nhwc = torch.tensor([value(i, 100) for i in range(batch * h * w * c)]).reshape(batch, h, w, c)
    x = x_nhwc.permute(0, 3, 1, 2)
    targets = [i % 3 for i in range(batch)]
    logits = fn(x, params)
    loss = F.cross_entropy(logits, torch.tensor(targets))
    loss.backward()
    out["models"][name] = {
        "batch": batch,
        "targets": targets,
        "loss": loss.item(),
        "outputs": torch.softmax(logits, dim=1).flatten().tolist(),
        "gradients": {pname: p.grad.flatten().tolist() for pname, p in params.items()},
    }

with open("cnn_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote cnn_reference.json:", ", ".join(out["models"]))
