"""Writes checkpoint_reference.json: a MnistCnn checkpoint saved by Compiled (CheckpointInteropTests writes it when
COMPILED_CHECKPOINT_OUT is set) loaded into the equivalent PyTorch nn.Sequential with load_state_dict(strict=True),
and that network's predictions (float64, NCHW) for fixed inputs. The JSON keeps the file's SHA-256, so the C# test
knows Save still writes the very bytes PyTorch loaded.

    COMPILED_CHECKPOINT_OUT=/tmp/mnist_cnn.safetensors dotnet test --project tests/Integration.Tests \
        --filter-class Compiled.Integration.Tests.CheckpointInteropTests     # fails until the JSON is written; fine
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_checkpoint_reference.py /tmp/mnist_cnn.safetensors

Key mapping: our layers.N counts layer attributes (activations are fused into their layer); nn.Sequential counts an
activation module after each layer that has one, so indices shift (see OURS below).
"""
import hashlib
import json
import math
import struct
import sys

import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)

# MnistCnn as declared in CnnTests.cs: (kind, activation) per attribute after [Input(28, 28, 1)].
OURS = [("conv", "relu"), ("maxpool", None), ("conv", "relu"), ("maxpool", None), ("flatten", None),
        ("linear", "relu"), ("linear", "softmax")]

net = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(1600, 128), nn.ReLU(),
    nn.Linear(128, 10), nn.Softmax(dim=1),
)


def key_mapping(layers):
    """Our layer index → nn.Sequential index: each activation is one more module."""
    mapping, index = {}, 0
    for ours, (_, activation) in enumerate(layers):
        mapping[f"layers.{ours}"] = str(index)
        index += 1 if activation is None else 2
    return mapping


def read_safetensors(path):
    """A tiny safetensors reader (the safetensors package may be missing): F32 and I64 tensors."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[entry["dtype"]]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(entry["shape"])
        tensors[name] = t
    return tensors


def pixel(i):
    # The same formula as CheckpointInteropTests.Pixel in C#.
    return 0.5 + 0.5 * math.sin(0.013 * i * i + 0.7 * i)


path = sys.argv[1]
mapping = key_mapping(OURS)
state = {}
for name, t in read_safetensors(path).items():
    prefix, suffix = name.rsplit(".", 1)
    state[f"{mapping[prefix]}.{suffix}"] = t.double()
net.load_state_dict(state, strict=True)
net.eval()

batch = 4
x = torch.tensor([pixel(i) for i in range(batch * 28 * 28)], dtype=torch.float32).double().reshape(batch, 28, 28, 1)
with torch.no_grad():
    p = net(x.permute(0, 3, 1, 2))
with open(path, "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()
out = {
    "torch": torch.__version__,
    "sha256": sha,
    "key_mapping": {k: v for k, v in mapping.items() if OURS[int(k.split(".")[1])][0] in ("conv", "linear")},
    "batch": batch,
    "outputs": p.flatten().tolist(),
    "classes": p.argmax(dim=1).tolist(),
}
with open("checkpoint_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote checkpoint_reference.json:", out["key_mapping"], out["classes"])
