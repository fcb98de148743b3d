#!/usr/bin/env python3
"""Checks Compiled's safetensors files against PyTorch, with no `safetensors` package: a minimal reader and
writer in pure Python (struct + json + torch.frombuffer) following the format's specification.

    python3 pytorch_roundtrip.py OURS.safetensors OUT_DIR

1. Reads OURS (written by Compiled's Checkpoint.Save for an MLP: Linear -> ReLU -> Linear -> Softmax, the sizes
   taken from the file), checks its layout (8-byte little-endian header size, header padded to 8 bytes, tensors
   back to back in header order, metadata format "pt"), and loads it into a torch module whose parameters are
   `layers = nn.ModuleList([nn.Linear(...), nn.Linear(...)])` with load_state_dict(strict=True).
2. Runs a fixed input through it and writes OUT_DIR/torch_outputs_on_ours.safetensors {"input", "output"}.
3. Builds the same module with torch's own initialisation (torch.manual_seed(0)), writes its state_dict with the
   writer below to OUT_DIR/torch_model.safetensors, and its outputs on the same input to
   OUT_DIR/torch_outputs_on_torch.safetensors.
The C# tests load these files and compare with the model's own Forward.
"""
import json
import os
import struct
import sys

import torch
from torch import nn


def read_safetensors(path):
    """Returns ({name: float32 tensor}, metadata, header_size, names in header order)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n <= len(blob) - 8, f"header size {n} exceeds the file"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors, covered = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        assert begin == covered, f"{name}: data must be back to back (begins at {begin}, expected {covered})"
        count = 1
        for d in info["shape"]:
            count *= d
        assert end - begin == 4 * count, f"{name}: {end - begin} bytes for shape {info['shape']}"
        # bytearray: frombuffer needs a writable buffer; '<f4' data is little-endian on every platform torch runs on here.
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(info["shape"]).clone()
        covered = end
    assert covered == len(data), f"{len(data) - covered} bytes after the last tensor"
    return tensors, metadata, n, list(header.keys())


def write_safetensors(path, tensors, metadata):
    """Writes like the reference implementation: __metadata__ first, tensors sorted by name, header padded to 8."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        raw = struct.pack(f"<{t.numel()}f", *t.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


class Mlp(nn.Module):
    def __init__(self, inputs, hidden, outputs):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(inputs, hidden), nn.Linear(hidden, outputs)])

    def forward(self, x):
        return torch.softmax(self.layers[1](torch.relu(self.layers[0](x))), dim=1)


def fixed_input(batch, inputs):
    """Deterministic, sign-mixed input: sin of a ramp."""
    return torch.sin(torch.arange(batch * inputs, dtype=torch.float32) * 0.37).reshape(batch, inputs)


def main():
    ours_path, out_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    state, metadata, header_size, order = read_safetensors(ours_path)
    assert (8 + header_size) % 8 == 0, f"header of {header_size} bytes is not padded to 8"
    assert metadata.get("format") == "pt", f"metadata {metadata}"
    hidden, inputs = state["layers.0.weight"].shape
    outputs = state["layers.1.weight"].shape[0]

    model = Mlp(inputs, hidden, outputs)
    model.load_state_dict(state, strict=True)
    x = fixed_input(5, inputs)
    with torch.no_grad():
        write_safetensors(os.path.join(out_dir, "torch_outputs_on_ours.safetensors"),
                          {"input": x, "output": model(x)}, {"format": "pt"})

    torch.manual_seed(0)
    fresh = Mlp(inputs, hidden, outputs)
    with torch.no_grad():
        write_safetensors(os.path.join(out_dir, "torch_model.safetensors"), fresh.state_dict(), {"format": "pt"})
        write_safetensors(os.path.join(out_dir, "torch_outputs_on_torch.safetensors"),
                          {"input": x, "output": fresh(x)}, {"format": "pt"})
    print(f"ok: {ours_path} ({', '.join(order)}) loaded strictly into torch {torch.__version__}; wrote 3 files to {out_dir}")


if __name__ == "__main__":
    main()
