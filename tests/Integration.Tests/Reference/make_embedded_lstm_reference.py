"""Writes embedded_lstm_reference.json: loss, outputs and every gradient computed by PyTorch (float64) for
EmbeddedLstm in EmbeddedLstmTests.cs: nn.Embedding(7, 4) -> nn.LSTM(4, 5, batch_first) over every step ->
nn.Linear(5, 7) at every step, cross-entropy over every step, at batch 3 (18 rows: our CPU step takes the per-token
projection) and batch 1 (6 rows, fewer than the 7 tokens: the per-row products).

Run from this folder with Debian's PyTorch:  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_embedded_lstm_reference.py
The parameters are loaded through load_state_dict under our checkpoint names. The C# test loads the JSON: CI needs no
PyTorch.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

STEPS, VOCABULARY, WIDTH, UNITS = 6, 7, 4, 5


def value(i, k):
    # The same formula as EmbeddedLstmTests.Value in C#.
    return 0.5 * math.sin(0.37 * i + 0.11 * k + 0.3)


def token(i):
    # The same formula as EmbeddedLstmTests.Token in C#: every id, several repeated within a sample.
    return (5 * i + i // 3) % VOCABULARY


def label(i):
    return (3 * i + 1) % VOCABULARY


out = {"torch": torch.__version__, "batches": {}}
for batch in (3, 1):
    embedding = nn.Embedding(VOCABULARY, WIDTH)
    lstm = nn.LSTM(WIDTH, UNITS, batch_first=True)
    head = nn.Linear(UNITS, VOCABULARY)
    named = [("layers.0.weight", embedding, "weight")]
    named += [(f"layers.1.{p}", lstm, p) for p in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    named += [("layers.2.weight", head, "weight"), ("layers.2.bias", head, "bias")]
    for k, (name, module, p) in enumerate(named):
        shape = getattr(module, p).shape
        n = getattr(module, p).numel()
        module.load_state_dict({p: torch.tensor([value(i, k) for i in range(n)]).reshape(shape)}, strict=False)
    ids = [token(i) for i in range(batch * STEPS)]
    targets = [label(i) for i in range(batch * STEPS)]
    h, _ = lstm(embedding(torch.tensor(ids).reshape(batch, STEPS)))  # zero initial state
    logits = head(h).reshape(batch * STEPS, VOCABULARY)
    loss = F.cross_entropy(logits, torch.tensor(targets))
    loss.backward()
    out["batches"][str(batch)] = {
        "names": [name for name, _, _ in named],
        "shapes": {name: list(getattr(m, p).shape) for name, m, p in named},
        "ids": ids,
        "targets": targets,
        "loss": loss.item(),
        "outputs": torch.softmax(logits, dim=1).flatten().tolist(),
        "gradients": {name: getattr(m, p).grad.flatten().tolist() for name, m, p in named},
    }

with open("embedded_lstm_reference.json", "w") as f:
    json.dump(out, f, indent=1)
print("wrote embedded_lstm_reference.json: batches", ", ".join(out["batches"]))
