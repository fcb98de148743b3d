"""Writes bn_reference.json: PyTorch's (float64) BatchNorm1d/BatchNorm2d in training mode for the models of
BatchNormTests.cs, with the same deterministic parameters and inputs: loss, outputs and every gradient of a first
step, the running statistics after a second step (on other inputs; no parameter update in between, so both steps
see the same parameters), and the eval-mode outputs (running statistics) for the first inputs.

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_bn_reference.py
Inputs are NHWC in C#, permuted to NCHW here; conv weights are [out, in, kh, kw] in both. The C# test reads the JSON,
so CI needs no PyTorch.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def value(i, k):
    # The same formula as BatchNormTests.Value in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


def tensor(shape, k):
    n = math.prod(shape)
    return torch.tensor([value(i, k) for i in range(n)]).reshape(shape).requires_grad_(True)


def bn(h, p, s, name, momentum=0.1, eps=1e-5, training=True):
    return F.batch_norm(h, s[name + ".running_mean"], s[name + ".running_var"], p[name + ".weight"], p[name + ".bias"],
                        training=training, momentum=momentum, eps=eps)


def cnn(x, p, s, training):
    # [Input(6,6,2)] [Conv2D(4, 3)] [BatchNorm(Activation.Relu)] [MaxPool2D(2)] [Flatten] [BatchNorm] [Dense(3, Softmax)]
    h = F.conv2d(x, p["layers.0.weight"], p["layers.0.bias"])
    h = torch.relu(bn(h, p, s, "layers.1", training=training))
    h = F.max_pool2d(h, 2)
    h = torch.flatten(h, 1)
    h = bn(h, p, s, "layers.4", training=training)
    return F.linear(h, p["layers.5.weight"], p["layers.5.bias"])


def mlp(x, p, s, training):
    # [Input(5)] [Dense(6)] [BatchNorm(Activation.Gelu, Momentum = 0.2, Eps = 1e-3)] [Dense(3, Softmax)]
    h = F.linear(x, p["layers.0.weight"], p["layers.0.bias"])
    h = F.gelu(bn(h, p, s, "layers.1", momentum=0.2, eps=1e-3, training=training), approximate="tanh")
    return F.linear(h, p["layers.2.weight"], p["layers.2.bias"])


MODELS = {
    "BnCnnReference": (cnn, (6, 6, 2), 4,
                       [("layers.0.weight", (4, 2, 3, 3)), ("layers.0.bias", (4,)), ("layers.1.weight", (4,)), ("layers.1.bias", (4,)),
                        ("layers.4.weight", (16,)), ("layers.4.bias", (16,)), ("layers.5.weight", (3, 16)), ("layers.5.bias", (3,))],
                       {"layers.1": 4, "layers.4": 16}),
    "BnMlpReference": (mlp, (5,), 6,
                       [("layers.0.weight", (6, 5)), ("layers.0.bias", (6,)), ("layers.1.weight", (6,)), ("layers.1.bias", (6,)),
                        ("layers.2.weight", (3, 6)), ("layers.2.bias", (3,))],
                       {"layers.1": 6}),
}


def inputs(shape, batch, k):
    n = batch * math.prod(shape)
    x = torch.tensor([value(i, k) for i in range(n)]).reshape((batch,) + shape)
    return x.permute(0, 3, 1, 2) if len(shape) == 3 else x


out = {"torch": torch.__version__, "models": {}}
for name, (fn, shape, batch, shapes, norms) in MODELS.items():
    params = {pname: tensor(pshape, k) for k, (pname, pshape) in enumerate(shapes)}
    state = {}
    for layer, c in norms.items():
        state[layer + ".running_mean"] = torch.zeros(c)
        state[layer + ".running_var"] = torch.ones(c)
    targets = [i % 3 for i in range(batch)]
    x1, x2 = inputs(shape, batch, 100), inputs(shape, batch, 200)
    logits = fn(x1, params, state, True)
    loss = F.cross_entropy(logits, torch.tensor(targets))
    loss.backward()
    record = {
        "batch": batch,
        "targets": targets,
        "loss": loss.item(),
        "outputs": torch.softmax(logits, dim=1).flatten().tolist(),
        "gradients": {pname: p.grad.flatten().tolist() for pname, p in params.items()},
    }
    with torch.no_grad():
        fn(x2, params, state, True)  # the second step's statistics
        record["buffers"] = {k: v.flatten().tolist() for k, v in state.items()}
        for layer in norms:
            record["buffers"][layer + ".num_batches_tracked"] = [2]
        record["eval_outputs"] = torch.softmax(fn(x1, params, state, False), dim=1).flatten().tolist()
    out["models"][name] = record

with open("bn_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote bn_reference.json:", ", ".join(out["models"]))
