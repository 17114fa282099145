"""Operators with `?` dims beyond the batch (a channel axis, a per-channel vector, a window)
compiled natively at -O0 (docs/native-dynamic-shapes.md): each program is compiled ONCE and
run at several run-time sizes (one and several items, a `?` vector of length 1 that
broadcasts, empty axes) against the reference interpreter and numpy."""

from __future__ import annotations

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'


def _compiled(source: str, filename: str = "dyn.rly"):  # noqa: ANN202
    module = load_program(HEADER + source, "relay", filename=filename).module
    return module, compile(module, opt=0, cache=False)


def _leaves(value) -> list[np.ndarray]:  # noqa: ANN001
    if isinstance(value, tuple):
        return [leaf for field in value for leaf in _leaves(field)]
    return [np.asarray(value)]


def _check(module, exe, inputs: list[np.ndarray], want: list[np.ndarray], tol: float = 1e-5):  # noqa: ANN001
    """The compiled result matches the interpreter's and `want` (numpy's)."""
    got = _leaves(exe(*inputs))
    reference = _leaves(interpret(module, inputs))
    assert len(got) == len(reference) == len(want)
    for g, r, w in zip(got, reference, want, strict=True):
        assert g.shape == r.shape == w.shape, (g.shape, r.shape, w.shape)
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def _random(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * alpha)


VECTORS = """
def @main(%x: Tensor[(?, ?, ?), float32], %v: Tensor[(?), float32],
          %y: Tensor[(2, 3, 4), float32], %s: Tensor[(3), float32], %z: Tensor[(?, ?), float32]) {
  (nn.bias_add(%x, %v), nn.prelu(%x, %v), nn.bias_add(%y, %v), nn.prelu(%y, %v),
   nn.bias_add(%x, %s), nn.prelu(%x, %s), nn.bias_add(%z, %v, axis=-1), nn.prelu(%z, %v, axis=-1))
}"""
"""`?` data with a `?` vector, static data with a `?` vector, `?` data with a static one."""


@pytest.mark.parametrize(
    ("n", "w", "length"),
    [(1, 4, 3), (5, 1, 3), (2, 4, 1), (0, 2, 3), (3, 0, 1)],
)
def test_bias_add_and_prelu_with_question_mark_channels_and_vectors(n, w, length):
    # The data's channel axis is 3 (the static vector's length); the `?` vector is 3 or
    # 1, which numpy (and the interpreter) broadcasts along the channels.
    module, exe = _compiled(VECTORS)
    rng = np.random.default_rng(n * 10 + w)
    x, v, y, s = _random(rng, n, 3, w), _random(rng, length), _random(rng, 2, 3, 4), _random(rng, 3)
    z = _random(rng, n, length)
    col = v.reshape(-1, 1)
    want = [x + col, _prelu(x, col), y + col, _prelu(y, col)]
    want += [x + s.reshape(-1, 1), _prelu(x, s.reshape(-1, 1)), z + v, _prelu(z, v)]
    _check(module, exe, [x, v, y, s, z], want)


@pytest.mark.parametrize(
    ("shapes", "what"),
    [
        (((2, 3, 4), (2,)), "the vector's length is neither 1 nor the channel count"),
        (((2, 2, 4), (1,)), "the static vector meets a `?` channel axis of another size"),
    ],
)
def test_a_vector_that_does_not_fit_is_a_located_error(shapes, what):
    module, exe = _compiled(
        """
def @main(%x: Tensor[(?, ?, ?), float32], %v: Tensor[(?), float32], %s: Tensor[(3), float32]) {
  (nn.bias_add(%x, %v), nn.prelu(%x, %s))
}""",
        "fit.rly",
    )
    (x_shape, v_shape) = shapes
    x, v, s = np.ones(x_shape, "f4"), np.ones(v_shape, "f4"), np.ones(3, "f4")
    message = "a \\? dimension of an operand has a different size at run time than the others"
    with pytest.raises(RelayError, match=message) as e:
        exe(x, v, s)
    at = "fit.rly:4:4" if v_shape != (1,) else "fit.rly:4:25"
    assert str(location_of(e.value.at)).startswith(at), what


NORMS = """
def @main(%x: Tensor[(?, ?, ?), float32], %g: Tensor[(?), float32], %b: Tensor[(?), float32],
          %c: Tensor[(?), float32], %d: Tensor[(?), float32]) {
  (nn.layer_norm(%x, %g, %b), nn.layer_norm(%x, %c, %d, axis=1, epsilon=0.01f),
   nn.instance_norm(%x, %c, %d), nn.group_norm(%x, %c, %d, num_groups=2),
   nn.l2_normalize(%x, eps=0.001f, axis=[1, 2]), nn.l2_normalize(%x, eps=0.001f))
}"""
"""The normalizations with every dim `?` (-O0 lowers each by its own rule)."""


def _standardized(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize(
    ("shape", "length"), [((1, 4, 5), 5), ((3, 2, 1), 1), ((2, 4, 6), 1), ((0, 4, 3), 3)]
)
def test_normalizations_with_question_mark_dims(shape, length):
    # `length` is layer_norm's gamma and beta along the last axis: its size, or 1 (numpy
    # broadcasts it).
    module, exe = _compiled(NORMS)
    rng = np.random.default_rng(sum(shape))
    n, ch, w = shape
    x = _random(rng, *shape)
    g, b = _random(rng, length), _random(rng, length)
    c, d = _random(rng, ch), _random(rng, ch)
    col = lambda v: v.reshape(-1, 1)  # noqa: E731
    eps = 1e-5
    grouped = _standardized(x.reshape(n, 2, ch // 2, w), (2, 3), eps).reshape(shape)
    want = [
        _standardized(x, (2,), eps) * g + b,
        _standardized(x, (1,), 0.01) * col(c) + col(d),
        _standardized(x, (2,), eps) * col(c) + col(d),
        grouped * col(c) + col(d),
        x / np.sqrt(np.maximum((x * x).sum(axis=(1, 2), keepdims=True), 1e-3)),
        x / np.sqrt(np.maximum((x * x).sum(), 1e-3)),
    ]
    _check(module, exe, [x, g, b, c, d], want, tol=1e-4)


UPDATES = """
def @main(%x: Tensor[(?, ?, ?), float32], %u: Tensor[(1, 2, 3), float32],
          %y: Tensor[(4, ?), int32], %v: Tensor[(2, 1), int32], %b: Tensor[(3), int64],
          %c: Tensor[(2), int64]) {
  %0 = add(%x, 1f);
  (dyn.update_slice(%0, %u, %b), dyn.update_slice(%x, %u, %b), dyn.update_slice(%y, %v, %c))
}"""
"""Updates at run-time offsets into data whose strides are run-time sizes: in place (the
data dies at the update), into a copy of a parameter, an integer tensor with a `?` last dim."""


@pytest.mark.parametrize(
    ("shape", "begin", "columns", "at"),
    [
        ((1, 2, 3), [0, 0, 0], 1, [0, 0]),
        ((3, 5, 4), [2, 3, 1], 4, [2, 3]),
        ((2, 2, 7), [1, 0, 4], 9, [1, 8]),
    ],
)
def test_update_slice_into_question_mark_inner_dims(shape, begin, columns, at):
    module, exe = _compiled(UPDATES)
    rng = np.random.default_rng(len(begin) + columns)
    x, u = _random(rng, *shape), _random(rng, 1, 2, 3)
    y = rng.integers(-9, 9, size=(4, columns)).astype(np.int32)
    v = rng.integers(-9, 9, size=(2, 1)).astype(np.int32)
    b, c = np.array(begin, np.int64), np.array(at, np.int64)
    box = tuple(slice(o, o + n) for o, n in zip(begin, u.shape, strict=True))
    want_x, want_plus, want_y = x.copy(), x + 1, y.copy()
    want_x[box], want_plus[box] = u, u
    want_y[at[0] : at[0] + 2, at[1] : at[1] + 1] = v
    before = x.copy()
    _check(module, exe, [x, u, y, v, b, c], [want_plus, want_x, want_y], tol=0)
    np.testing.assert_array_equal(x, before)  # the caller's array is not written


def test_an_update_outside_question_mark_inner_dims_is_a_located_error():
    module, exe = _compiled(UPDATES, "update.rly")
    rng = np.random.default_rng(3)
    args = [
        _random(rng, 2, 2, 3),
        _random(rng, 1, 2, 3),
        np.zeros((4, 2), np.int32),
        np.zeros((2, 1), np.int32),
    ]
    for begin, at, axis in (([0, 0, 1], [0, 0], 2), ([0, 1, 0], [0, 0], 1), ([0, 0, 0], [0, 2], 1)):
        with pytest.raises(RelayError, match=f"axis {axis} writes outside the data") as e:
            exe(*args, np.array(begin, np.int64), np.array(at, np.int64))
        assert str(location_of(e.value.at)).startswith("update.rly:7:")


SIZED_UPDATES = """
def @main(%x: Tensor[(?, ?), float32], %u: Tensor[(?, ?), float32], %b: Tensor[(?), int64],
          %y: Tensor[(6, 4), int32], %v: Tensor[(?, 2), int32], %c: Tensor[(2), int64]) {
  %0 = add(%x, 1f);
  (dyn.update_slice(%0, %u, %b), dyn.update_slice(%x, %u, %b), dyn.update_slice(%y, %v, %c))
}"""
"""Updates whose sizes are read at run time (a `?` update) at a `?`-long begin: in place,
into a copy of a parameter, into static data (a `?` first dim of the update only)."""


@pytest.mark.parametrize(
    ("shape", "update", "begin", "rows", "at"),
    [
        ((1, 1), (1, 1), [0, 0], 1, [5, 2]),
        ((4, 7), (2, 3), [1, 4], 3, [2, 1]),
        ((5, 3), (0, 2), [5, 1], 0, [6, 0]),
        ((9, 6), (9, 6), [0, 0], 6, [0, 2]),
    ],
)
def test_update_slice_of_run_time_sizes(shape, update, begin, rows, at):
    module, exe = _compiled(SIZED_UPDATES)
    rng = np.random.default_rng(sum(shape) + rows)
    x, u = _random(rng, *shape), _random(rng, *update)
    y = rng.integers(-9, 9, size=(6, 4)).astype(np.int32)
    v = rng.integers(-9, 9, size=(rows, 2)).astype(np.int32)
    b, c = np.array(begin, np.int64), np.array(at, np.int64)
    box = tuple(slice(o, o + n) for o, n in zip(begin, update, strict=True))
    want_x, want_plus, want_y = x.copy(), x + 1, y.copy()
    want_x[box], want_plus[box] = u, u
    want_y[at[0] : at[0] + rows, at[1] : at[1] + 2] = v
    before = x.copy()
    _check(module, exe, [x, u, b, y, v, c], [want_plus, want_x, want_y], tol=0)
    np.testing.assert_array_equal(x, before)  # the caller's array is not written


@pytest.mark.parametrize(
    ("update", "begin", "rows", "message"),
    [
        ((3, 1), [2, 0], 1, "axis 0 writes outside the data"),
        ((1, 3), [0, 2], 1, "axis 1 writes outside the data"),
        ((1, 1), [0, 0], 7, "axis 0 writes outside the data"),
        ((1, 1), [0], 1, "begin's length is not the data's rank"),
        ((1, 1), [0, 0, 0], 1, "begin's length is not the data's rank"),
    ],
)
def test_an_update_of_run_time_sizes_that_does_not_fit_is_a_located_error(
    update, begin, rows, message
):
    # The compiled code reports it at the operator; the interpreter raises at the same place.
    module, exe = _compiled(SIZED_UPDATES, "sized.rly")
    rng = np.random.default_rng(len(begin) + rows)
    args = [
        _random(rng, 4, 4),
        _random(rng, *update),
        np.array(begin, np.int64),
        np.zeros((6, 4), np.int32),
        np.zeros((rows, 2), np.int32),
        np.array([0, 0], np.int64),
    ]
    with pytest.raises(RelayError, match=message) as e:
        exe(*args)
    assert str(location_of(e.value.at)).startswith("sized.rly:")
    with pytest.raises(RelayError, match=message) as e:
        interpret(module, args)
    assert str(location_of(e.value.at)).startswith("sized.rly:")


COLLAPSES = """
def @main(%x: Tensor[(?, ?, ?), float32], %s: Tensor[(?, ?), float32],
          %y: Tensor[(2, 3, 4), int32], %t: Tensor[(?, 4), int32]) {
  (collapse_sum_like(%x, %s), collapse_sum_like(%y, %t))
}"""
"""collapse_sum_like to targets with `?` dims: which axes are summed (a target 1 against a
data size that is not 1) is known at run time only."""


def _collapse(x: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """numpy's un-broadcast: sum the leading axes, and keep-dims sum where the target has 1."""
    lead = x.ndim - len(target)
    x = x.sum(axis=tuple(range(lead)))
    axes = tuple(k for k, t in enumerate(target) if t == 1 and x.shape[k] != 1)
    return x.sum(axis=axes, keepdims=True)


@pytest.mark.parametrize(
    ("shape", "target", "rows"),
    [
        ((2, 3, 4), (3, 4), 3),
        ((2, 3, 4), (1, 4), 1),
        ((2, 3, 4), (3, 1), 1),
        ((2, 3, 4), (1, 1), 3),
        ((1, 1, 5), (1, 5), 1),
        ((3, 0, 2), (1, 2), 3),
        ((2, 0, 4), (0, 1), 1),
        ((4, 7, 9), (7, 9), 1),
    ],
)
def test_collapse_sum_like_to_run_time_sizes(shape, target, rows):
    module, exe = _compiled(COLLAPSES)
    rng = np.random.default_rng(sum(shape) + sum(target) + rows)
    x, s = _random(rng, *shape), np.zeros(target, np.float32)
    y = rng.integers(-9, 9, size=(2, 3, 4)).astype(np.int32)
    t = np.zeros((rows, 4), np.int32)
    _check(module, exe, [x, s, y, t], [_collapse(x, target), _collapse(y, (rows, 4))], tol=1e-5)


@pytest.mark.parametrize(
    ("target", "rows", "message"),
    [
        ((2, 4), 3, "the target's axis 0 is neither 1 nor the data's size"),
        ((3, 0), 3, "the target's axis 1 is neither 1 nor the data's size"),
        ((3, 4), 2, "the target's axis 0 is neither 1 nor the data's size"),
    ],
)
def test_collapse_sum_like_to_a_size_neither_1_nor_the_datas_is_a_located_error(
    target, rows, message
):
    module, exe = _compiled(COLLAPSES, "collapse.rly")
    rng = np.random.default_rng(rows)
    args = [
        _random(rng, 2, 3, 4),
        np.zeros(target, np.float32),
        np.zeros((2, 3, 4), np.int32),
        np.zeros((rows, 4), np.int32),
    ]
    for run in (lambda: exe(*args), lambda: interpret(module, args)):
        with pytest.raises(RelayError, match=message) as e:
            run()
        assert str(location_of(e.value.at)).startswith("collapse.rly:")


CONVOLUTIONS = """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32],
          %t: Tensor[(?, ?, ?, ?), float32], %g: Tensor[(4, 1, 3, 3), float32],
          %y: Tensor[(?, ?, ?, ?), float32], %k: Tensor[(?, ?, ?, ?), float32]) {
  (nn.conv2d(%x, %w, strides=[2, 1], dilation=[1, 2], padding=[2, 1, 0, 2]),
   nn.conv2d(%x, %g, groups=4, padding=[1, 1]),
   nn.conv2d(%y, %k, data_layout="NHWC", kernel_layout="HWIO", padding=[1, 1]),
   nn.conv2d_transpose(%x, %t, strides=[2, 3], padding=[1, 0, 2, 1], output_padding=[1, 0],
     dilation=[1, 2]),
   nn.conv2d_transpose(%x, %t))
}"""
"""Convolutions whose channels and kernels are `?` (data and weights), a depthwise one
over `?` channels, one in NHWC, transposed ones with `?` kernels."""


def _conv_reference(x, w, strides, padding, dilation, groups=1):  # noqa: ANN001, ANN202
    """Direct NCHW / OIHW convolution in float64: one product per kernel tap."""
    (sh, sw), (dh, dw), (top, left, bottom, right) = strides, dilation, padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, hp, wp = xp.shape
    o, cpg, kh, kw = w.shape
    oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for oc in range(o):
        g = oc // (o // groups)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
                cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
                patch = xp[:, g * cpg : (g + 1) * cpg, rows, cols]
                out[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, i, j])
    return out


def _transposed_reference(x, w, strides, padding, dilation, extra, groups=1):  # noqa: ANN001, ANN202
    """Each input element adds its kernel-weighted copy at y * stride + i * dilation (into
    its group's output channels); the result is that sum cropped by the padding (and grown
    by output_padding)."""
    (sh, sw), (dh, dw), (top, left, bottom, right), (eh, ew) = strides, dilation, padding, extra
    n, cin, h, wd = x.shape
    _, opg, kh, kw = w.shape
    cpg, o = cin // groups, opg * groups
    oh = (h - 1) * sh + (kh - 1) * dh + 1 - top - bottom + eh
    ow = (wd - 1) * sw + (kw - 1) * dw + 1 - left - right + ew
    full = np.zeros((n, o, top + oh + kh * dh + h * sh, left + ow + kw * dw + wd * sw))
    for g in range(groups):
        ins, outs = slice(g * cpg, (g + 1) * cpg), slice(g * opg, (g + 1) * opg)
        for r in range(h):
            for s in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        full[:, outs, r * sh + i * dh, s * sw + j * dw] += (
                            x[:, ins, r, s] @ w[ins, :, i, j]
                        )
    return full[:, :, top : top + oh, left : left + ow]


@pytest.mark.parametrize(
    ("n", "h", "w", "o", "kh", "kw"),
    [(1, 5, 6, 3, 3, 3), (3, 7, 4, 5, 1, 2), (2, 4, 5, 1, 3, 1), (0, 5, 5, 2, 2, 2)],
)
def test_convolutions_with_question_mark_channels_and_kernels(n, h, w, o, kh, kw):
    module, exe = _compiled(CONVOLUTIONS)
    rng = np.random.default_rng(n + h + w + o)
    x, weight = _random(rng, n, 4, h, w), _random(rng, o, 4, kh, kw)
    t, g = _random(rng, 4, o, kh, kw), _random(rng, 4, 1, 3, 3)
    y, k = _random(rng, n, h, w, 4), _random(rng, kh, kw, 4, o)
    nhwc = _conv_reference(
        y.transpose(0, 3, 1, 2), k.transpose(3, 2, 0, 1), (1, 1), (1,) * 4, (1, 1)
    )
    want = [
        _conv_reference(x, weight, (2, 1), (2, 1, 0, 2), (1, 2)),
        _conv_reference(x, g, (1, 1), (1, 1, 1, 1), (1, 1), groups=4),
        nhwc.transpose(0, 2, 3, 1),
        _transposed_reference(x, t, (2, 3), (1, 0, 2, 1), (1, 2), (1, 0)),
        _transposed_reference(x, t, (1, 1), (0,) * 4, (1, 1), (0, 0)),
    ]
    _check(module, exe, [x, weight, t, g, y, k], want, tol=1e-4)


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((1, 3, 5, 5), (2, 4, 3, 3)), "'nn.conv2d': the data's channels differ from the weight's"),
        (((1, 4, 2, 5), (2, 4, 5, 3)), "'nn.conv2d': the window is larger than the padded input"),
        (((1, 4, 5, 5), (3, 2, 3, 3)), "'nn.conv2d_transpose': the data's channels differ"),
        (((1, 4, 1, 1), (4, 2, 1, 1)), "'nn.conv2d_transpose': the padding leaves an empty"),
    ],
)
def test_convolution_sizes_that_do_not_fit_are_located_errors(shapes, message):
    module, exe = _compiled(
        """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32]) {
  nn.conv2d(%x, %w, padding=[1, 1])
}
def @transposed(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32]) {
  nn.conv2d_transpose(%x, %w, padding=[1, 1])
}""",
        "convs.rly",
    )
    transposed = "transpose" in message
    if transposed:
        exe = compile(module, opt=0, cache=False, entry="transposed")
    x, w = (np.ones(s, np.float32) for s in shapes)
    with pytest.raises(RelayError, match=message) as e:
        exe(x, w)
    line = 7 if transposed else 4
    assert str(location_of(e.value.at)).startswith(f"convs.rly:{line}:3")


def test_squeeze_without_axes_keeps_question_mark_dims():
    # Only the dims statically 1 go (TVM's relation): a `?` dim of size 1 at run time stays,
    # in the interpreter as natively, so both give the type's rank.
    module, exe = _compiled("""
def @main(%x: Tensor[(?, 1, ?, 3), float32], %y: Tensor[(?, 1), int32]) {
  (squeeze(%x), squeeze(%x, axis=[1]), squeeze(%y))
}""")
    rng = np.random.default_rng(7)
    for n, m in ((1, 1), (2, 4), (0, 1), (3, 0)):
        x = _random(rng, n, 1, m, 3)
        y = rng.integers(-5, 5, size=(m, 1)).astype(np.int32)
        _check(module, exe, [x, y], [x[:, 0], x[:, 0], y[:, 0]], tol=0)


def test_squeezing_a_question_mark_axis_that_is_not_1_is_a_located_error_in_both():
    module, exe = _compiled(
        "def @main(%x: Tensor[(?, 3), float32]) {\n  squeeze(%x, axis=[0])\n}", "squeeze.rly"
    )
    x = np.ones((1, 3), np.float32)
    _check(module, exe, [x], [x[0]], tol=0)
    x = np.ones((2, 3), np.float32)
    for run in (lambda: exe(x), lambda: interpret(module, [x])):
        with pytest.raises(RelayError) as e:
            run()
        assert str(location_of(e.value.at)).startswith("squeeze.rly:3:3")


GROUPED = """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32],
          %t: Tensor[(?, ?, ?, ?), float32], %y: Tensor[(?, ?, ?, ?), float32],
          %k: Tensor[(?, ?, ?, ?), float32]) {
  (nn.conv2d(%x, %w, groups=GROUPS, strides=[2, 1], dilation=[1, 2], padding=[2, 1, 0, 2]),
   nn.conv2d(%y, %k, groups=GROUPS, data_layout="NHWC", kernel_layout="HWIO", padding=[1, 1]),
   nn.conv2d_transpose(%x, %t, groups=GROUPS, strides=[2, 3], padding=[1, 0, 2, 1],
     output_padding=[1, 0], dilation=[1, 2]))
}"""
"""Grouped convolutions whose weights' channels (and kernels) are `?`: the channels per
group are computed when they run."""


@pytest.mark.parametrize(
    ("groups", "n", "c", "h", "w", "opg", "kh", "kw"),
    [
        (1, 1, 3, 5, 6, 2, 3, 3),
        (2, 2, 4, 5, 4, 3, 2, 3),
        (4, 1, 8, 6, 5, 1, 3, 1),
        (4, 1, 4, 4, 4, 1, 3, 3),  # depthwise: a channel per group
        (2, 0, 6, 5, 5, 2, 1, 2),
    ],
)
def test_grouped_convolutions_with_question_mark_weights(groups, n, c, h, w, opg, kh, kw):
    module, exe = _compiled(GROUPED.replace("GROUPS", str(groups)))
    rng = np.random.default_rng(groups + n + c + h)
    x, y = _random(rng, n, c, h, w), _random(rng, n, h, w, c)
    weight = _random(rng, opg * groups, c // groups, kh, kw)
    k = _random(rng, kh, kw, c // groups, opg * groups)
    t = _random(rng, c, opg, kh, kw)
    nhwc = _conv_reference(
        y.transpose(0, 3, 1, 2), k.transpose(3, 2, 0, 1), (1, 1), (1,) * 4, (1, 1), groups
    )
    want = [
        _conv_reference(x, weight, (2, 1), (2, 1, 0, 2), (1, 2), groups),
        nhwc.transpose(0, 2, 3, 1),
        _transposed_reference(x, t, (2, 3), (1, 0, 2, 1), (1, 2), (1, 0), groups),
    ]
    _check(module, exe, [x, weight, t, y, k], want, tol=1e-4)


@pytest.mark.parametrize(
    ("entry", "shapes", "message"),
    [
        ("main", ((1, 4, 3, 3), (3, 2, 1, 1)), "the weight's output channels do not split into 2"),
        ("main", ((1, 4, 3, 3), (4, 3, 1, 1)), "the data's channels differ from the weight's"),
        ("transposed", ((1, 3, 3, 3), (3, 2, 1, 1)), "the data's channels do not split into 2"),
        ("transposed", ((1, 4, 3, 3), (2, 2, 1, 1)), "the data's channels differ from the weight"),
    ],
)
def test_grouped_channels_that_do_not_split_are_located_errors(entry, shapes, message):
    # natively and in the interpreter alike
    module, _ = _compiled(
        """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32]) {
  nn.conv2d(%x, %w, groups=2)
}
def @transposed(%x: Tensor[(?, ?, ?, ?), float32], %w: Tensor[(?, ?, ?, ?), float32]) {
  nn.conv2d_transpose(%x, %w, groups=2)
}""",
        "groups.rly",
    )
    exe = compile(module, opt=0, cache=False, entry=entry)
    x, w = (np.ones(s, np.float32) for s in shapes)
    line = 4 if entry == "main" else 7
    with pytest.raises(RelayError, match=message) as e:
        exe(x, w)
    assert str(location_of(e.value.at)).startswith(f"groups.rly:{line}:3")
    with pytest.raises(RelayError, match=message) as e:
        interpret(module, [x, w], entry=entry)
    assert str(location_of(e.value.at)).startswith(f"groups.rly:{line}:3")
