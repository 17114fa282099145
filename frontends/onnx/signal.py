"""ONNX's signal operators: DFT and STFT as matmuls with constant cosine and sine
matrices (the transform length is static; an STFT frame_length read at run time sums
against bases computed at run time), and the window functions, whose output depends only
on their size (a `?` window when it is read at run time).

A complex value is ONNX's [..., 2] pair (real, imaginary); a real one [..., 1].
"""

from __future__ import annotations

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.dialects.relay.types import DYNAMIC
from relay_opt.frontends.onnx import runtime_axes
from relay_opt.frontends.onnx.importer import Node, Value, converter, relay_dtype_of
from relay_opt.frontends.onnx.runtime_axes import counted, run_time_scalar


def _bases(
    length_in: int, length: int, bins: int, inverse: bool, onesided_inverse: bool, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of 2π·k·n/length as [inputs, outputs] matrices.

    Inputs beyond `length` are cut off (rows of zeros), missing ones are zeros (no rows), as
    numpy's fft does with n=length. The inverse divides by `length`; a one-sided inverse
    (irfft) counts each bin strictly between 0 and length/2 twice (its mirror image)."""
    n_in = np.arange(length_in)
    if inverse:  # rows: frequency bins in; columns: samples out
        k, n = np.meshgrid(n_in, np.arange(length if onesided_inverse else bins), indexing="ij")
    else:  # rows: samples in; columns: bins out
        n, k = np.meshgrid(n_in, np.arange(bins), indexing="ij")
    theta = 2 * np.pi * ((k * n) % length) / length
    cos, sin = np.cos(theta), np.sin(theta)
    used = (k if inverse else n) < (length // 2 + 1 if onesided_inverse else length)
    cos, sin = np.where(used, cos, 0), np.where(used, sin, 0)
    if inverse:
        scale = np.full(length_in, 1.0 / length)
        if onesided_inverse:
            scale[1:] *= 2
            if length % 2 == 0 and length // 2 < length_in:
                scale[length // 2] = 1.0 / length
        cos, sin = cos * scale[:, None], sin * scale[:, None]
    return cos.astype(dtype), sin.astype(dtype)


def _transform(n: Node, x: Value, axis: int, length: int, inverse: bool, onesided: bool) -> Value:
    """The DFT of x ([..., 1 or 2]) along `axis` (not the last), as [..., bins, 2]."""
    shape = list(n.shape(x))
    rank = len(shape)
    if shape[-1] not in (1, 2):
        raise n.error(f"the last axis holds a real (1) or complex (2) value, not {shape[-1]}")
    if not 0 <= axis < rank - 1:
        raise n.error(f"axis {axis} is not a signal axis of a rank-{rank} input")
    onesided_inverse = inverse and onesided
    # A one-sided forward transform keeps only the bins up to Nyquist.
    bins = length // 2 + 1 if onesided and not inverse else length
    # Move the transformed axis last (before the pair) and flatten the others into rows.
    perm = [a for a in range(rank - 1) if a != axis] + [axis, rank - 1]
    moved = n.op("transpose", x, axes=perm) if perm != list(range(rank)) else x
    lead = [shape[a] for a in perm[:-2]]
    # (STFT's frame count may be ?: reshape's -1 takes it from the run-time size)
    if lead.count(DYNAMIC) > 1:
        raise n.unsupported("a DFT of data with more than one ? dimension besides its axis")
    lead_codes = [-1 if d == DYNAMIC else d for d in lead]
    rows = -1 if DYNAMIC in lead else int(np.prod(lead))
    real = n.reshape(
        n.op("strided_slice", moved, begin=[0], end=[1], strides=[1], axes=[rank - 1]),
        [rows, shape[axis]],
    )
    cos, sin = _bases(
        shape[axis], length, bins, inverse, onesided_inverse, np.dtype(numpy_dtype(n.dtype(x)))
    )
    if shape[-1] == 2:
        imag = n.reshape(
            n.op("strided_slice", moved, begin=[1], end=[2], strides=[1], axes=[rank - 1]),
            [rows, shape[axis]],
        )
    else:
        imag = None

    def mm(v: Value, m: np.ndarray) -> Value:
        return n.op("nn.matmul", v, m)

    if onesided_inverse:  # a real signal: Re(Σ (a + ib)(cos + i sin)) = Σ a cos - b sin
        out_real = mm(real, cos) if imag is None else n.op("subtract", mm(real, cos), mm(imag, sin))
        pair = n.op("expand_dims", out_real, axis=2)
    else:
        sign = 1 if inverse else -1  # e^{±iθ} = cos ± i sin
        if imag is None:
            out_real, out_imag = (
                mm(real, cos),
                n.op("multiply", mm(real, sin), n.scalar(sign, real)),
            )
        else:
            # (a + ib)(cos + i·sign·sin) = (a cos - sign b sin) + i (b cos + sign a sin)
            out_real = n.op(
                "subtract", mm(real, cos), n.op("multiply", mm(imag, sin), n.scalar(sign, real))
            )
            out_imag = n.op(
                "add", mm(imag, cos), n.op("multiply", mm(real, sin), n.scalar(sign, real))
            )
        pair = n.op("stack", [out_real, out_imag], axis=2)
    out_shape = [*lead_codes, n.shape(pair)[1], n.shape(pair)[2]]
    out = n.reshape(pair, out_shape)
    back = [0] * rank
    for i, a in enumerate(perm):
        back[a] = i
    return n.op("transpose", out, axes=back) if back != list(range(rank)) else out


@converter("DFT")
def dft(n: Node) -> Value:
    x = n.required(0)
    rank = n.rank(x)
    inverse, onesided = bool(n.attr("inverse", 0)), bool(n.attr("onesided", 0))
    if onesided and not inverse and n.shape(x)[-1] != 1:
        raise n.error("a one-sided DFT takes a real input")
    given_length = n.const_input(1, "dft_length")

    def along(axis: int) -> Value:
        if given_length is not None and np.asarray(given_length).size:
            length = int(np.asarray(given_length).reshape(-1)[0])
        else:
            length = 2 * (n.shape(x)[axis] - 1) if inverse and onesided else n.shape(x)[axis]
        if length < 1:
            raise n.error(f"dft_length {length} is not positive")
        return _transform(n, x, axis, length, inverse, onesided)

    if n.opset >= 20:
        given = n.input(2)
        if given is not None and not isinstance(given, np.ndarray):
            # an axis read at run time: one transform per signal axis (all but the last)
            return runtime_axes.by_axis(n, given, rank, rank - 1, along)
        axis = -2 if given is None else int(np.asarray(given).reshape(-1)[0])
    else:
        axis = int(n.attr("axis", 1))
    return along(axis % rank)


@converter("STFT")
def stft(n: Node) -> Value:
    """Frames gathered from the signal (`take`), windowed, then transformed. A frame_step
    read at run time gives a `?` count of frames; one below 1 is arange's located error."""
    signal, window = n.required(0), n.input(2)
    given = n.input(3)
    if given is not None and not isinstance(given, np.ndarray):
        return _stft_of_run_time_length(n, signal, window, given)
    length = n.shape(signal)[1]
    if given is not None:
        frame = int(np.asarray(given).reshape(-1)[0])
    elif window is not None:
        frame = n.shape(window)[0]
    else:
        raise n.error("needs a window or a frame_length")
    step_in = n.required(1)
    if isinstance(step_in, np.ndarray) and int(step_in.reshape(-1)[0]) < 1:
        raise n.error(f"frame_step {int(step_in.reshape(-1)[0])} is not positive")
    if frame < 1 or frame > length:
        raise n.error(f"frame_length {frame} does not fit a signal of length {length}")
    onesided = bool(n.attr("onesided", 1))
    # [batch, frames, frame, parts] gathered from the signal at each frame's positions.
    positions = _frame_positions(n, n.scalar(frame, "int64"), np.arange(frame, dtype=np.int64))
    framed = n.op("take", signal, positions, axis=1)
    if window is not None:
        framed = n.op("multiply", framed, n.reshape(window, [1, 1, frame, 1]))
    return _transform(n, framed, 2, frame, inverse=False, onesided=onesided)


def _frame_positions(n: Node, frame: Value, offsets: Value) -> Value:
    """(frames, frame) int64: the signal positions of each frame, frames starting every
    frame_step (a step below 1 is arange's located run-time error: 'the step is 0')."""
    zero = n.scalar(0, "int64")
    step = run_time_scalar(n, n.required(1), "frame_step")
    step = n.op("where", n.op("less", step, n.scalar(1, "int64")), zero, step)
    last = n.op("subtract", n.scalar(n.shape(n.required(0))[1] + 1, "int64"), frame)
    starts = n.op("arange", zero, last, step, dtype="int64")
    return n.op("add", n.op("expand_dims", starts, axis=1), n.op("expand_dims", offsets, axis=0))


def _stft_of_run_time_length(n: Node, signal: Value, window: Value | None, given: Value) -> Value:
    """STFT whose frame_length is read at run time: the frame and bin axes are `?`, and each
    bin is the frame's sum against cos and sin of 2π·k·n/frame computed at run time (in
    float64, as the constant bases). A frame_length below 1 or unlike the window's length
    is dyn.reshape's located run-time error."""
    i64, f64 = "int64", "float64"
    dtype = n.dtype(signal)
    if n.rank(signal) != 3 or n.shape(signal)[2] not in (1, 2) or DYNAMIC in n.shape(signal):
        raise n.error(f"the signal must be [batch, length, 1 or 2], not {list(n.shape(signal))}")
    frame = run_time_scalar(n, given, "frame_length")
    frame = n.op("where", n.op("less", frame, n.scalar(1, i64)), n.scalar(-1, i64), frame)
    offsets = counted(n, frame)  # (frame,)
    positions = _frame_positions(n, frame, offsets)
    framed = n.op("take", signal, positions, axis=1)  # [batch, frames, frame, parts]
    if window is not None:
        checked = n.op("dyn.reshape", window, n.reshape(frame, [1]))
        framed = n.op(
            "multiply",
            framed,
            n.op("expand_dims", n.op("expand_dims", checked, axis=1), axis=0, num_newaxis=2),
        )
    onesided = bool(n.attr("onesided", 1))
    bins = (
        n.op("add", n.op("floor_divide", frame, n.scalar(2, i64)), n.scalar(1, i64))
        if onesided
        else frame
    )
    k = n.op("expand_dims", counted(n, bins), axis=0)
    product = n.op("mod", n.op("multiply", n.op("expand_dims", offsets, axis=1), k), frame)
    theta = n.op(
        "divide",
        n.op("multiply", n.cast(product, f64), n.scalar(2 * np.pi, f64)),
        n.cast(frame, f64),
    )  # (frame, bins)
    cos, sin = (n.cast(n.op(f, theta), dtype) for f in ("cos", "sin"))

    def part(p: int) -> Value:  # [batch, frames, frame, 1]
        return n.op("strided_slice", framed, begin=[p], end=[p + 1], strides=[1], axes=[3])

    def against(v: Value, basis: Value) -> Value:  # Σ over the frame: [batch, frames, bins]
        return n.op("sum", n.op("multiply", v, basis), axis=[2])

    real = part(0)
    out_real = against(real, cos)
    out_imag = n.op("negative", against(real, sin))  # e^{-iθ} = cos - i sin
    if n.shape(signal)[2] == 2:
        imag = part(1)
        out_real = n.op("add", out_real, against(imag, sin))
        out_imag = n.op("add", out_imag, against(imag, cos))
    return n.op("stack", [out_real, out_imag], axis=3)


def _window(n: Node, values: Value) -> Value:
    return n.cast(values, relay_dtype_of(n.attr("output_datatype", 1), n.where()))


def _window_grid(n: Node) -> tuple[Value, Value]:
    """The positions 0 .. size - 1 and the denominator they are divided by (float64). A size
    read at run time gives a `?` output (folded to constants when it is known)."""
    size = n.required(0)
    if isinstance(size, np.ndarray) and int(size.reshape(-1)[0]) < 1:
        raise n.error(f"size {int(size.reshape(-1)[0])} is not positive")
    size = run_time_scalar(n, size, "size")
    one = n.scalar(1, "int64")
    d = size if n.attr("periodic", 1) else n.op("subtract", size, one)
    return n.cast(counted(n, size), "float64"), n.cast(n.op("maximum", d, one), "float64")


def _cos(n: Node, i: Value, d: Value, k: int) -> Value:
    """cos(2πk · i / d)"""
    return n.op("cos", n.op("divide", n.op("multiply", i, n.scalar(2 * k * np.pi, i)), d))


@converter("HannWindow")
def hann_window(n: Node) -> Value:
    i, d = _window_grid(n)
    s = n.op("sin", n.op("divide", n.op("multiply", i, n.scalar(np.pi, i)), d))
    return _window(n, n.op("multiply", s, s))


@converter("HammingWindow")
def hamming_window(n: Node) -> Value:
    i, d = _window_grid(n)
    alpha = 25 / 46
    c = n.op("multiply", _cos(n, i, d, 1), n.scalar(1 - alpha, i))
    return _window(n, n.op("subtract", n.scalar(alpha, i), c))


@converter("BlackmanWindow")
def blackman_window(n: Node) -> Value:
    i, d = _window_grid(n)
    c1 = n.op("multiply", _cos(n, i, d, 1), n.scalar(0.5, i))
    c2 = n.op("multiply", _cos(n, i, d, 2), n.scalar(0.08, i))
    return _window(n, n.op("add", n.op("subtract", n.scalar(0.42, i), c1), c2))


@converter("MelWeightMatrix")
def mel_weight_matrix(n: Node) -> Value:
    """[dft_length // 2 + 1, num_mel_bins] triangular filters, computed while importing (every
    input decides the shape or where the triangles lie): num_mel_bins + 2 edges evenly spaced
    on the mel scale, each turned into a spectrogram bin (rounded down, in the inputs' dtypes,
    as ONNX's reference computes them); filter i rises from edge i to edge i + 1 and falls to
    edge i + 2 (a single 1 when the first two coincide)."""

    def one(i: int, name: str) -> np.ndarray:
        v = n.const_input(i, name)
        if v is None or v.size != 1:
            raise n.error(f"{name} must be one value")
        return v.reshape(())

    count, length = int(one(0, "num_mel_bins")), int(one(1, "dft_length"))
    rate, low, high = one(2, "sample_rate"), one(3, "lower_edge_hertz"), one(4, "upper_edge_hertz")
    if count < 1 or length < 1 or rate <= 0:
        raise n.error(f"num_mel_bins {count}, dft_length {length}, sample_rate {rate}: need > 0")
    with np.errstate(all="ignore"):
        low_mel = 2595 * np.log1p(low / 700) / np.log(10)
        high_mel = 2595 * np.log1p(high / 700) / np.log(10)
        mel = np.arange(0, count + 2) * ((high_mel - low_mel) / (count + 2)) + low_mel
        hertz = 700 * np.expm1(mel / 2595 * np.log(10))
        edges = ((length + 1) * hertz) // rate
    bins = length // 2 + 1
    if not np.isfinite(edges).all():
        raise n.error(f"the mel edges {edges.tolist()} are not finite")
    edges = edges.astype(np.int64)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]
    if edges.min() < 0 or center.max() >= bins or right.max() > bins:
        raise n.error(f"the mel edges {edges.tolist()} fall outside the {bins} spectrogram bins")
    j = np.arange(bins)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = np.where(center > left, (j - left) / (center - left), j == center)
        falling = (right - j) / (right - center)
    out = np.where((left <= j) & (j <= center), rising, 0.0)
    out = np.where((center <= j) & (j < right), falling, out)
    return out.astype(numpy_dtype(relay_dtype_of(int(n.attr("output_datatype", 1)), "output")))
