"""ONNX's signal operators: DFT and STFT as matmuls with constant cosine and sine
matrices (the transform length is static), and the window functions, whose
output depends only on their (constant) size.

A complex value is ONNX's [..., 2] pair (real, imaginary); a real one [..., 1].
"""

from __future__ import annotations

import numpy as np

from relay_opt.dialects.relay.numpy_dtypes import numpy_dtype
from relay_opt.frontends.onnx import runtime_axes
from relay_opt.frontends.onnx.importer import Node, Value, converter, relay_dtype_of


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
    rows = int(np.prod(lead))
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
    out_shape = [*lead, n.shape(pair)[1], n.shape(pair)[2]]
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
    signal, window = n.required(0), n.input(2)
    step = int(np.asarray(n.const_input(1, "frame_step")).reshape(-1)[0])
    given = n.const_input(3, "frame_length")
    length = n.shape(signal)[1]
    if given is not None:
        frame = int(np.asarray(given).reshape(-1)[0])
    elif window is not None:
        frame = n.shape(window)[0]
    else:
        raise n.error("needs a window or a frame_length")
    if step < 1 or frame < 1 or frame > length:
        raise n.error(
            f"frame_step {step} and frame_length {frame} do not fit a signal of length {length}"
        )
    onesided = bool(n.attr("onesided", 1))
    frames = (length - frame) // step + 1
    # [batch, frames, frame, parts] gathered from the signal at constant positions.
    starts = np.arange(frames) * step
    positions = (starts[:, None] + np.arange(frame)[None, :]).astype(np.int64)
    framed = n.op("take", signal, positions, axis=1)
    if window is not None:
        framed = n.op("multiply", framed, n.reshape(window, [1, 1, frame, 1]))
    return _transform(n, framed, 2, frame, inverse=False, onesided=onesided)


def _window(n: Node, values: np.ndarray) -> np.ndarray:
    dtype = relay_dtype_of(n.attr("output_datatype", 1), n.where())
    return values.astype(numpy_dtype(dtype))


def _window_grid(n: Node) -> tuple[np.ndarray, int]:
    size = int(np.asarray(n.const_input(0, "size")).reshape(-1)[0])
    if size < 1:
        raise n.error(f"size {size} is not positive")
    denominator = size if n.attr("periodic", 1) else size - 1
    return np.arange(size, dtype=np.float64), max(denominator, 1)


@converter("HannWindow")
def hann_window(n: Node) -> Value:
    i, d = _window_grid(n)
    return _window(n, np.sin(np.pi * i / d) ** 2)


@converter("HammingWindow")
def hamming_window(n: Node) -> Value:
    i, d = _window_grid(n)
    alpha = 25 / 46
    return _window(n, alpha - (1 - alpha) * np.cos(2 * np.pi * i / d))


@converter("BlackmanWindow")
def blackman_window(n: Node) -> Value:
    i, d = _window_grid(n)
    return _window(n, 0.42 - 0.5 * np.cos(2 * np.pi * i / d) + 0.08 * np.cos(4 * np.pi * i / d))
