"""Five real models of common families, built with PyTorch, exported to ONNX, compiled by
relay-opt and compared with onnxruntime.

    pip install -e '.[benchmark]'
    python benchmarks/real_models.py [--models resnet18,mobilenet_v2,bert_layer,gpt2_kv,unet]
        [--threads 1] [--budget 10]

Models (random weights, eval mode, batch 1, float32):
  resnet18      ResNet-18 as torchvision lays it out (7x7 stem, max-pool, four stages of two
                basic blocks, 1x1 projection shortcuts, global average pool, fc 1000), 224x224
  mobilenet_v2  MobileNetV2 as torchvision lays it out (inverted residuals with ReLU6 and
                depthwise 3x3 convs, width 1.0, 1280 features, fc 1000), 224x224
  bert_layer    a BERT-base encoder layer: 12-head self-attention with an additive padding
                mask, residual + LayerNorm, a GELU (erf) feed-forward 768-3072-768; seq 128
  gpt2_kv       a GPT-2 (small) decoder block with a KV cache: 4 new tokens after 124 cached
                ones; pre-LayerNorm, the cache's keys and values concatenated with the new
                ones (the new cache is an output), a causal mask from GPT-2's lower-triangular
                buffer, tanh-GELU MLP
  unet          a small U-Net on 3x128x128: three double-conv stages down with max-pool, a
                bottleneck, up by ConvTranspose2d (twice) and bilinear Upsample (once), each
                concatenated with its skip, 1x1 head to 2 classes

The architectures are written here with torch.nn (torchvision's wheel on PyPI is built for
CUDA and does not load next to the CPU build of torch this project pins), exported with the
TorchScript exporter (`dynamo=False`: it needs nothing beyond torch) at opset 17, written to a
temporary directory and read back, so no model file is kept. Each model is imported
(import_onnx), compiled (relay_opt.compile, -O3, without the compile cache so the compile time
is a cold one), run and compared with onnxruntime (CPU provider, all graph optimizations, the
same intra-op thread count as relay-opt). "rel err" is max |relay-opt - ort| / max |ort| over
each output, the largest over the outputs; a model passes at 1e-4. "torch ms" is the module
itself in PyTorch eager (inference mode, torch.set_num_threads to the same count). Latency is
the median of up to 50 calls after a warm-up (stopping after `--budget` seconds per runner),
in thread CPU time at one thread (every runner then computes on the calling thread, and a
shared machine's preemptions do not count), else wall-clock. `python benchmarks/run.py
--sections models` includes these rows (in wall-clock time, as its other rows) when torch is
installed.
Nothing here asserts a time; the machine may be shared.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

MODELS = ("resnet18", "mobilenet_v2", "bert_layer", "gpt2_kv", "unet")
OPSET = 17
TOLERANCE = 1e-4


def _nn():  # noqa: ANN202
    import torch  # pyright: ignore[reportMissingImports]

    return torch, torch.nn


def _randomize_batch_norms(model, seed: int) -> None:  # noqa: ANN001
    """Random running statistics and affine parameters, so that BatchNormalization is not an
    identity in eval mode (freshly built layers have mean 0, variance 1, weight 1, bias 0).
    The TorchScript exporter folds them into the convolutions' weights in eval mode."""
    torch, nn = _nn()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


def resnet18():  # noqa: ANN201
    torch, nn = _nn()

    def conv_bn(cin: int, cout: int, k: int, stride: int) -> list:
        return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                *conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout, 3, 1)
            )
            short = stride != 1 or cin != cout
            self.short = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if short else None

        def forward(self, x):  # noqa: ANN001, ANN202
            skip = x if self.short is None else self.short(x)
            return torch.relu(self.body(x) + skip)

    layers: list = [*conv_bn(3, 64, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers), {"image": (1, 3, 224, 224)}


def mobilenet_v2():  # noqa: ANN201
    torch, nn = _nn()

    def cbr(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> list:
        conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        return [conv, nn.BatchNorm2d(cout), *([nn.ReLU6()] if act else [])]

    class Inverted(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
            super().__init__()
            hidden = cin * expand
            steps = cbr(cin, hidden, 1, 1) if expand != 1 else []
            steps += cbr(hidden, hidden, 3, stride, groups=hidden)
            steps += cbr(hidden, cout, 1, 1, act=False)
            self.body = nn.Sequential(*steps)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):  # noqa: ANN001, ANN202
            return x + self.body(x) if self.residual else self.body(x)

    layers: list = cbr(3, 32, 3, 2)
    cin = 32
    for expand, cout, repeat, stride in (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ):
        for i in range(repeat):
            layers.append(Inverted(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += [*cbr(320, 1280, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    layers += [nn.Dropout(0.2), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers), {"image": (1, 3, 224, 224)}


def _split_heads(x, heads: int):  # noqa: ANN001, ANN202
    b, s, d = x.shape
    return x.reshape(b, s, heads, d // heads).transpose(1, 2)


def bert_layer(seq: int = 128, hidden: int = 768, heads: int = 12):  # noqa: ANN201
    torch, nn = _nn()

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-12), nn.LayerNorm(hidden, eps=1e-12)
            self.up, self.down = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)

        def forward(self, x, mask):  # noqa: ANN001, ANN202
            q, k, v = (_split_heads(f(x), heads) for f in (self.q, self.k, self.v))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // heads)
            # BERT's extended attention mask: 0 where attended, a large negative where padded
            scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
            ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(x.shape)
            h = self.ln1(x + self.o(ctx))
            return self.ln2(h + self.down(nn.functional.gelu(self.up(h))))

    return Layer(), {"hidden_states": (1, seq, hidden), "attention_mask": (1, seq)}


def gpt2_kv(past: int = 124, new: int = 4, hidden: int = 768, heads: int = 12):  # noqa: ANN201
    torch, nn = _nn()
    head = hidden // heads
    positions = 1024

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
            self.c_attn, self.c_proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.fc, self.proj = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)
            tril = torch.tril(torch.ones(positions, positions, dtype=torch.bool))
            self.register_buffer("bias", tril.view(1, 1, positions, positions))

        def forward(self, x, past_key, past_value):  # noqa: ANN001, ANN202
            q, k, v = self.c_attn(self.ln1(x)).split(hidden, dim=2)
            q, k, v = (_split_heads(t, heads) for t in (q, k, v))
            key = torch.cat((past_key, k), dim=-2)
            value = torch.cat((past_value, v), dim=-2)
            scores = q @ key.transpose(-1, -2) / math.sqrt(head)
            q_len, k_len = q.shape[-2], key.shape[-2]
            causal = self.bias[:, :, k_len - q_len : k_len, :k_len]
            scores = torch.where(causal, scores, torch.finfo(scores.dtype).min)
            ctx = (torch.softmax(scores, -1) @ value).transpose(1, 2).reshape(x.shape)
            h = x + self.c_proj(ctx)
            mlp = self.proj(nn.functional.gelu(self.fc(self.ln2(h)), approximate="tanh"))
            return h + mlp, key, value

    cache = (1, heads, past, head)
    return Block(), {"x": (1, new, hidden), "past_key": cache, "past_value": cache}


def unet(size: int = 128, base: int = 16):  # noqa: ANN201
    torch, nn = _nn()

    def double(cin: int, cout: int):  # noqa: ANN202
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w = [base, 2 * base, 4 * base, 8 * base]
            self.down = nn.ModuleList([double(3, w[0]), double(w[0], w[1]), double(w[1], w[2])])
            self.pool = nn.MaxPool2d(2)
            self.bottom = double(w[2], w[3])
            self.up = nn.ModuleList(
                [
                    nn.ConvTranspose2d(w[3], w[2], 2, stride=2),
                    nn.ConvTranspose2d(w[2], w[1], 2, stride=2),
                    nn.Sequential(
                        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                        nn.Conv2d(w[1], w[0], 1),
                    ),
                ]
            )
            self.merge = nn.ModuleList([double(2 * c, c) for c in (w[2], w[1], w[0])])
            self.head = nn.Conv2d(w[0], 2, 1)

        def forward(self, x):  # noqa: ANN001, ANN202
            skips = []
            for stage in self.down:
                x = stage(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottom(x)
            for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
                x = merge(torch.cat((up(x), skip), dim=1))
            return self.head(x)

    return UNet(), {"image": (1, 3, size, size)}


BUILDERS = {
    "resnet18": resnet18,
    "mobilenet_v2": mobilenet_v2,
    "bert_layer": bert_layer,
    "gpt2_kv": gpt2_kv,
    "unet": unet,
}


def inputs(name: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
    if name == "bert_layer":  # the last 16 positions are padding
        mask = np.ones(shapes["attention_mask"], np.float32)
        mask[:, -16:] = 0.0
        feeds["attention_mask"] = mask
    return feeds


def build(name: str, directory: str):  # noqa: ANN201
    """The model `name` exported to ONNX (opset 17) in `directory`, loaded back; its inputs
    and the torch module itself."""
    import onnx
    import torch  # pyright: ignore[reportMissingImports]

    torch.manual_seed(0)
    module, shapes = BUILDERS[name]()
    _randomize_batch_norms(module, 1)
    module.eval()
    feeds = inputs(name, shapes)
    path = os.path.join(directory, f"{name}.onnx")
    args = tuple(torch.from_numpy(a) for a in feeds.values())
    outputs = ["y", "present_key", "present_value"] if name == "gpt2_kv" else ["y"]
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            path,
            dynamo=False,
            opset_version=OPSET,
            input_names=list(feeds),
            output_names=outputs,
        )
    return onnx.load(path), feeds, module


def relative_error(ours: Sequence[object], theirs: Sequence[object]) -> float:
    """max |ours - theirs| / max |theirs|, the largest over the outputs."""
    worst = 0.0
    for a, b in zip(ours, theirs, strict=True):
        a = np.asarray(a, np.float64)
        ref = np.asarray(b, np.float64).reshape(a.shape)
        scale = float(np.abs(ref).max()) or 1.0
        worst = max(worst, float(np.abs(a - ref).max()) / scale)
    return worst


def timed(fn: Callable[[], object], clock: Callable[[], float], budget: float) -> float:
    """Median milliseconds of up to 50 calls of `fn` by `clock` after a warm-up (at least 3
    unless over `budget` seconds of that clock)."""
    fn()
    times: list[float] = []
    while len(times) < 50 and (len(times) < 3 or sum(times) < budget):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times) * 1e3


def measure(
    name: str,
    budget: float,
    threads: int,
    torch_too: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, object]:
    """One row: import and compile time, relay-opt's and onnxruntime's latency by `clock`
    (and PyTorch eager's with `torch_too`, at the thread count torch has), the error."""
    from onnx_models import flat, ort_session

    from relay_opt.frontends.onnx import import_onnx
    from relay_opt.runtime.jit import compile

    with tempfile.TemporaryDirectory() as directory:
        model, feeds, module = build(name, directory)
    row: dict[str, object] = {"model": name, "nodes": len(model.graph.node)}
    start = time.perf_counter()
    imported = import_onnx(model)
    row["import s"] = time.perf_counter() - start
    start = time.perf_counter()
    exe = compile(imported.module, cache=False, threads=threads)
    row["compile s"] = time.perf_counter() - start
    args = [feeds[n] for n in imported.input_names]
    ours = flat(exe(*args))
    row["relay-opt ms"] = timed(lambda: exe(*args), clock, budget)

    start = time.perf_counter()
    session = ort_session(model, threads)
    row["ort setup s"] = time.perf_counter() - start
    theirs = session.run(None, feeds)
    row["ort ms"] = timed(lambda: session.run(None, feeds), clock, budget)
    row["ratio to ort"] = row["relay-opt ms"] / row["ort ms"]  # pyright: ignore[reportOperatorIssue]
    row["relay-opt setup s"] = row["import s"] + row["compile s"]  # pyright: ignore[reportOperatorIssue]
    row["max |diff|"] = max(
        float(np.abs(np.asarray(a, np.float64) - np.reshape(b, np.shape(a))).max())  # pyright: ignore
        for a, b in zip(ours, theirs, strict=True)
    )
    row["rel err"] = relative_error(ours, theirs)
    row["match"] = "yes" if row["rel err"] <= TOLERANCE else "NO"  # pyright: ignore[reportOperatorIssue]
    if torch_too:
        import torch  # pyright: ignore[reportMissingImports]

        tensors = [torch.from_numpy(feeds[n]) for n in feeds]
        with torch.inference_mode():
            row["torch ms"] = timed(lambda: module(*tensors), clock, budget)
    return row


COLUMNS = [
    "model",
    "nodes",
    "import s",
    "compile s",
    "relay-opt ms",
    "ort ms",
    "ratio to ort",
    "torch ms",
    "rel err",
    "match",
]


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    p.add_argument("--threads", type=int, default=1, help="threads for both (default 1)")
    p.add_argument("--budget", type=float, default=10.0, help="seconds per runner at most")
    ns = p.parse_args()
    names = [n for n in ns.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model {unknown[0]!r}: choose from {', '.join(MODELS)}")
    if ns.threads < 1:
        p.error("--threads must be at least 1")
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # onnx_models beside this file
    os.environ["RELAY_OPT_NUM_THREADS"] = str(ns.threads)
    import torch  # pyright: ignore[reportMissingImports]

    torch.set_num_threads(ns.threads)
    # One thread: every runner computes on the calling thread, and its CPU time is what a
    # shared machine cannot inflate (a preempted call's wall-clock time includes the wait).
    clock = time.thread_time if ns.threads == 1 else time.perf_counter
    print(f"median {'thread CPU' if ns.threads == 1 else 'wall-clock'} ms per call")
    print(" | ".join(f"{c:>12}" for c in COLUMNS))
    print("-|-".join("-" * 12 for _ in COLUMNS))
    for name in names:
        row = measure(name, ns.budget, ns.threads, True, clock)
        cells = [
            f"{v:>12.4g}" if isinstance(v, float) else f"{v!s:>12}"
            for v in (row.get(c, "-") for c in COLUMNS)
        ]
        print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
