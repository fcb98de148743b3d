"""PyTorch peer for tests/Benchmarks: the same workloads as the C# side, timed on request.

Started once by the C# benchmark as a subprocess. Protocol, one line per message:
  <- ready torch=<version> threads=<n> interop=<n>            (once, at start)
  -> run <workload> <iterations>
  <- ok <microseconds per iteration> <last loss or nan>
  -> quit
Errors are answered with "error <message>" and the process keeps serving.

Each workload mirrors the Compiled model of the same name: the same layer sizes, the same random
MNIST-shaped batch (uniform [0, 1) pixels, labels i % 10), cross-entropy on the logits and Adam(1e-3).
"""

import math
import os
import sys
import time

import torch
import torch.nn.functional as F


def mlp(*sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


DEVICE = os.environ.get("PEER_DEVICE", "cpu")  # "cuda" for --device gpu


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def batch(size, features=784, classes=10):
    x = torch.rand(size, features)
    y = torch.arange(size) % classes
    return x.to(DEVICE), y.to(DEVICE)


class Train:
    """One full training step: forward, softmax cross-entropy, backward, Adam update."""

    def __init__(self, sizes, batch_size):
        self.model = mlp(*sizes).to(DEVICE)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.y = batch(batch_size, sizes[0], sizes[-1])
        self.loss = float("nan")

    def run(self, iterations):
        model, optimizer, x, y = self.model, self.optimizer, self.x, self.y
        sync()
        start = time.perf_counter_ns()
        for _ in range(iterations):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        sync()
        elapsed = time.perf_counter_ns() - start
        self.loss = loss.item()
        return elapsed


def mnist_cnn():
    # MnistCnn in Models.cs, NCHW.
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(1600, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def cifar_cnn():
    # CifarCnn in Models.cs.
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 128, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))


def lenet5():
    # LeNet5 in Models.cs: same padding first (2 for a 5x5 kernel), 28x28 input.
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


class TrainCnn(Train):
    """A CNN's training step on NCHW images (uniform [0, 1) pixels, labels i % 10), as Train."""

    def __init__(self, build, shape, batch_size):
        self.model = build().to(DEVICE)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = torch.rand(batch_size, *shape).to(DEVICE)
        self.y = (torch.arange(batch_size) % 10).to(DEVICE)
        self.loss = float("nan")


class CharLstm(torch.nn.Module):
    """CharLstm in Models.cs: embedding 65x64, LSTM 128 (batch first) over every step, a linear layer per step."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(65, 64)
        self.lstm = torch.nn.LSTM(64, 128, batch_first=True)
        self.linear = torch.nn.Linear(128, 65)

    def forward(self, x):
        h, _ = self.lstm(self.embedding(x))
        return self.linear(h).reshape(-1, 65)  # [batch·steps, classes], as cross_entropy takes them


class TrainCharLstm(Train):
    """The character LSTM's training step: random ids in, a random next id per step as the target, as Train."""

    def __init__(self, batch_size, steps):
        self.model = CharLstm().to(DEVICE)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x = torch.randint(0, 65, (batch_size, steps)).to(DEVICE)
        self.y = torch.randint(0, 65, (batch_size * steps,)).to(DEVICE)
        self.loss = float("nan")


class Infer:
    """One prediction of one sample, softmax included (the Compiled model's Forward ends with it)."""

    def __init__(self, sizes):
        self.model = mlp(*sizes).to(DEVICE).eval()
        self.x, _ = batch(1, sizes[0], sizes[-1])
        self.loss = float("nan")

    def run(self, iterations):
        model, x = self.model, self.x
        with torch.no_grad():
            sync()
            start = time.perf_counter_ns()
            for _ in range(iterations):
                torch.softmax(model(x), dim=1).cpu()  # the prediction comes back to the host, as ours does
            sync()
            return time.perf_counter_ns() - start


class Sgemm:
    """C = A·Bᵀ + bias, n³: F.linear under no_grad (cuBLAS on CUDA, FP32 with TF32 off)."""

    def __init__(self, n):
        if DEVICE == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as ours: TF32 would be a different precision
        self.a = torch.rand(n, n, device=DEVICE)
        self.b = torch.rand(n, n, device=DEVICE)
        self.bias = torch.rand(n, device=DEVICE)
        self.loss = float("nan")

    def run(self, iterations):
        a, b, bias = self.a, self.b, self.bias
        with torch.no_grad():
            sync()
            start = time.perf_counter_ns()
            for _ in range(iterations):
                c = F.linear(a, b, bias)
            sync()
            return time.perf_counter_ns() - start


WORKLOADS = {
    "mlp-784-128-10-b64": lambda: Train((784, 128, 10), 64),
    "mlp-784-128-10-b1-infer": lambda: Infer((784, 128, 10)),
    "mlp-784-1024-1024-10-b1024": lambda: Train((784, 1024, 1024, 10), 1024),
    "sgemm-1024": lambda: Sgemm(1024),
    # The CPU simulator runs ours at 256 (a smoke test); the peer's size follows.
    "sgemm-8192": lambda: Sgemm(8192 if DEVICE == "cuda" else 256),
    "mnist-cnn-b64": lambda: TrainCnn(mnist_cnn, (1, 28, 28), 64),
    "cifar-cnn-b64": lambda: TrainCnn(cifar_cnn, (3, 32, 32), 64),
    "lenet5-b64": lambda: TrainCnn(lenet5, (1, 28, 28), 64),
    "char-lstm-b32-t64": lambda: TrainCharLstm(32, 64),
}


def main():
    threads = int(os.environ.get("PEER_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    built = {}
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("error torch sees no CUDA device for --device gpu", flush=True)
        return
    print(f"ready torch={torch.__version__} device={DEVICE} threads={torch.get_num_threads()} "
          f"interop={torch.get_num_interop_threads()} "
          f"openblas={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} "
          f"coretype={os.environ.get('OPENBLAS_CORETYPE', 'unset')}", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            break
        try:
            if parts[0] != "run" or len(parts) != 3:
                raise ValueError(f"unknown command: {line.strip()}")
            name, iterations = parts[1], int(parts[2])
            if name not in WORKLOADS:
                raise ValueError(f"unknown workload: {name}")
            if iterations <= 0:
                raise ValueError("iterations must be positive")
            if name not in built:
                built[name] = WORKLOADS[name]()
            work = built[name]
            elapsed_ns = work.run(iterations)
            loss = work.loss
            loss_text = "nan" if math.isnan(loss) else f"{loss:.6f}"
            print(f"ok {elapsed_ns / iterations / 1000.0:.3f} {loss_text}", flush=True)
        except Exception as e:  # keep serving: the C# side reports the message
            print(f"error {type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
