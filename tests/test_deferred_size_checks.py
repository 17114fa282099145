"""Operators whose type relations leave a size check to run time (issue 12): broadcast_to,
image.grid_sample, nn.max_unpool, vision.roi_align and a deformable conv2d's offset and
mask with `?` dims (and its `?` channels and weight), each compiled ONCE and run at several run-time sizes against the
reference interpreter; sizes that disagree at run time are the same located error compiled
and interpreted (docs/native-dynamic-shapes.md)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from relay_opt import load_program
from relay_opt.diagnostics import RelayError, location_of
from relay_opt.runtime.interpreter import interpret
from relay_opt.runtime.jit import compile

HEADER = '#[version = "0.0.5"]\n'

GRID_SAMPLES = ",\n   ".join(
    f'image.grid_sample(%x, %g, method="{method}", padding_mode="{padding}", '
    f"align_corners={corners})"
    for method, padding, corners in itertools.product(
        ("nearest", "bilinear", "bicubic"), ("zeros", "border", "reflection"), (True, False)
    )
)

PROGRAMS = {
    "grid_sample": f"""
def @main(%x: Tensor[(?, 2, ?, ?), float32], %g: Tensor[(?, ?, 3, 4), float32]) {{
  ({GRID_SAMPLES})
}}""",
    "grid_sample_3d": """
def @main(%x: Tensor[(2, 1, ?, 3, ?), float32], %g: Tensor[(?, 3, 2, 2, 3), float32]) {
  (image.grid_sample(%x, %g, layout="NCDHW", padding_mode="reflection", align_corners=False),
   image.grid_sample(%x, %g, layout="NCDHW", method="nearest", padding_mode="border"))
}""",
    "max_unpool": """
def @main(%x: Tensor[(1, 2, ?, ?), float32], %i: Tensor[(1, ?, ?, 3), int64]) {
  nn.max_unpool(%x, %i, shape=[1, 2, 4, 5])
}""",
    "broadcast": """
def @main(%a: Tensor[(?, 1), float32], %b: Tensor[(3, 1), float32],
          %t: Tensor[(?, ?, ?), float32]) {
  (broadcast_to(%a, shape=[2, 3, 1]), broadcast_to_like(%b, %t))
}""",
    "roi_align": """
def @main(%x: Tensor[(?, 3, ?, ?), float32], %r: Tensor[(?, ?), float32]) {
  (vision.roi_align(%x, %r, pooled_size=[2, 3], spatial_scale=0.5f, sample_ratio=2),
   vision.roi_align(%x, %r, pooled_size=[3, 2], mode="max", aligned=True),
   vision.roi_align(%x, %r, pooled_size=[2, 2], spatial_scale=1.5f, aligned=True),
   vision.roi_align(%x, %r, pooled_size=[1, 3], mode="max", sample_ratio=1))
}""",
    # The elimination loops over the run-time size (and over 12 x 12 with static ones).
    "det": """
def @main(%x: Tensor[(?, ?, ?), float32], %y: Tensor[(2, ?, 3), float64],
          %z: Tensor[(14, 14), float16]) {
  (det(%x), det(%y), det(%z))
}""",
    "deformable": """
def @main(%x: Tensor[(1, 2, 5, 5), float32], %o: Tensor[(?, ?, ?, ?), float32],
          %w: Tensor[(2, 2, 2, 3), float32], %m: Tensor[(1, 6, ?, ?), float32]) {
  nn.modulated_deformable_conv2d(%x, %o, %w, %m, padding=[1, 1, 1, 1])
}""",
    # A `?` batch, height and width of the data: the result's, the columns' and the taps'
    # clamps sized at run time (strides, dilation, groups and offset groups).
    "deformable_spatial": """
def @main(%x: Tensor[(?, 4, ?, ?), float32], %o: Tensor[(?, 16, ?, ?), float32],
          %w: Tensor[(6, 2, 2, 2), float32], %m: Tensor[(?, ?, ?, ?), float32]) {
  nn.modulated_deformable_conv2d(%x, %o, %w, %m, padding=[1, 0, 1, 1], strides=[2, 1],
    dilation=[1, 2], groups=2, deformable_groups=2)
}""",
    # `?` channels and a `?` weight: the groups' sizes, the kernel and the offset's taps
    # read at run time, the relation's channel checks made then.
    "deformable_weights": """
def @main(%x: Tensor[(?, ?, ?, ?), float32], %o: Tensor[(?, ?, ?, ?), float32],
          %w: Tensor[(?, ?, ?, ?), float32], %m: Tensor[(?, ?, ?, ?), float32]) {
  nn.modulated_deformable_conv2d(%x, %o, %w, %m, padding=[1, 0, 1, 1], strides=[2, 1],
    dilation=[1, 2], groups=2, deformable_groups=2)
}""",
}


def _sizes(name: str, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Run-time inputs of program `name` at its n-th set of sizes."""
    f = np.float32
    if name == "grid_sample":
        batch, h, w = [(1, 1, 1), (2, 4, 5), (3, 7, 2)][n]
        return {
            "x": rng.standard_normal((batch, 2, h, w)).astype(f),
            "g": rng.uniform(-1.4, 1.4, (batch, 2, 3, 4)).astype(f),
        }
    if name == "grid_sample_3d":
        d, w = [(1, 1), (4, 5), (2, 3)][n]
        return {
            "x": rng.standard_normal((2, 1, d, 3, w)).astype(f),
            "g": rng.uniform(-1.4, 1.4, (2, 3, 2, 2, 3)).astype(f),
        }
    if name == "max_unpool":
        h, w = [(1, 3), (2, 3), (3, 3)][n]
        return {
            "x": rng.standard_normal((1, 2, h, w)).astype(f),
            "i": rng.integers(-2, 42, (1, 2, h, w)),
        }
    if name == "broadcast":
        return {
            "a": rng.standard_normal(([1, 3, 3][n], 1)).astype(f),
            "b": rng.standard_normal((3, 1)).astype(f),
            "t": np.zeros(([1, 2, 4][n], 3, [2, 1, 5][n]), f),
        }
    if name == "roi_align":
        batch, h, w, regions = [(1, 1, 1, 1), (2, 6, 7, 4), (3, 9, 5, 0)][n]
        rois = np.column_stack(
            [
                rng.integers(0, batch, regions),
                rng.uniform(-2, 2 * w, regions),
                rng.uniform(-2, 2 * h, regions),
                rng.uniform(0, 2 * w + 2, regions),
                rng.uniform(0, 2 * h + 2, regions),
            ]
        )
        return {"x": rng.standard_normal((batch, 3, h, w)).astype(f), "r": rois.astype(f)}
    if name == "det":
        batch, m = [(1, 0), (2, 3), (3, 6)][n]
        x = rng.standard_normal((batch, m, m)).astype(f)
        if m > 1:
            x[0, 0, 0] = 0.0  # the first pivot comes from a swap
            x[-1, 1] = x[-1, 0] * 2  # singular
        return {
            "x": x,
            "y": rng.standard_normal((2, 3, 3)),
            "z": (rng.standard_normal((14, 14)) * 0.7).astype(np.float16),
        }
    if name == "deformable_spatial":
        batch, h, w = [(1, 2, 3), (2, 5, 6), (3, 8, 4)][n]
        oh, ow = (h + 2 - 1 - 1) // 2 + 1, (w + 1 - 2 - 1) + 1
        return {
            "x": rng.standard_normal((batch, 4, h, w)).astype(f),
            "o": rng.uniform(-2, 2, (batch, 16, oh, ow)).astype(f),
            "w": rng.standard_normal((6, 2, 2, 2)).astype(f),
            "m": rng.uniform(0, 1, (batch, 8, oh, ow)).astype(f),
        }
    if name == "deformable_weights":
        batch, c, h, w, per_group, kh, kw = [
            (1, 2, 4, 5, 1, 1, 2),
            (2, 4, 5, 6, 2, 2, 2),
            (1, 8, 6, 4, 3, 3, 1),
        ][n]
        oh, ow = (h + 2 - (kh - 1) - 1) // 2 + 1, w + 1 - (kw - 1) * 2
        return {
            "x": rng.standard_normal((batch, c, h, w)).astype(f),
            "o": rng.uniform(-2, 2, (batch, 2 * kh * kw * 2, oh, ow)).astype(f),
            "w": rng.standard_normal((2 * per_group, c // 2, kh, kw)).astype(f),
            "m": rng.uniform(0, 1, (batch, 2 * kh * kw, oh, ow)).astype(f),
        }
    assert name == "deformable"
    return {
        "x": rng.standard_normal((1, 2, 5, 5)).astype(f),
        "o": rng.uniform(-2, 2, (1, 12, 6, 5)).astype(f),
        "w": rng.standard_normal((2, 2, 2, 3)).astype(f),
        "m": rng.uniform(0, 1, (1, 6, 6, 5)).astype(f),
    }


def _leaves(value) -> list[np.ndarray]:  # noqa: ANN001
    return list(value) if isinstance(value, tuple) else [value]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_one_compile_runs_at_several_sizes(name):
    module = load_program(HEADER + PROGRAMS[name], "relay").module
    exe = compile(module, opt=0, cache=False)
    rng = np.random.default_rng(7)
    for n in range(3):
        inputs = _sizes(name, n, rng)
        got, want = _leaves(exe(**inputs)), _leaves(interpret(module, inputs))
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape, (name, n)
            tol = 2e-3 if w.dtype == np.float16 else 2e-5  # float16: an ulp of rounding
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"{name} #{n}")


def test_broadcast_to_matches_numpy():
    module = load_program(HEADER + PROGRAMS["broadcast"], "relay").module
    exe = compile(module, opt=0, cache=False)
    a, b = np.arange(3, dtype=np.float32).reshape(3, 1), np.ones((3, 1), np.float32)
    got = exe(a, b, np.zeros((4, 3, 2), np.float32))
    np.testing.assert_array_equal(got[0], np.broadcast_to(a, (2, 3, 1)))
    np.testing.assert_array_equal(got[1], np.broadcast_to(b, (4, 3, 2)))


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("grid_sample", {"g": (3, 2, 3, 4)}, "the grid is not \\(N, spatial rank"),
        ("grid_sample", {"g": (2, 3, 3, 4)}, "the grid is not \\(N, spatial rank"),
        ("grid_sample", {"x": (2, 2, 0, 4)}, "a spatial axis of the data is empty"),
        ("max_unpool", {"i": (1, 2, 3, 3)}, "the indices' shape is not the data's"),
        ("broadcast", {"a": (2, 1)}, "a \\? dimension of the data is neither 1"),
        ("broadcast", {"t": (2, 2, 2)}, "a \\? dimension of the target is not the data's"),
        ("roi_align", {"r": (2, 4)}, "the rois are not \\(R, 5\\)"),
        ("roi_align", {"x": (0, 3, 4, 4)}, "the regions sample data with an empty axis"),
        ("roi_align", {"x": (2, 3, 4, 0)}, "the regions sample data with an empty axis"),
        ("det", {"x": (2, 3, 4)}, "the matrices are not square at run time"),
        ("det", {"y": (2, 2, 3)}, "the matrices are not square at run time"),
        ("deformable", {"o": (1, 12, 5, 5)}, "the offset or mask does not have the shape"),
        ("deformable", {"m": (1, 6, 6, 4)}, "the offset or mask does not have the shape"),
        ("deformable_spatial", {"x": (2, 4, 6, 6)}, "the offset or mask does not have"),
        ("deformable_spatial", {"m": (2, 8, 3, 4)}, "the offset or mask does not have"),
        ("deformable_spatial", {"x": (2, 4, 5, 1)}, "the offset or mask does not have"),
        ("deformable_weights", {"w": (4, 3, 2, 2)}, "the data's channels do not fit the weight"),
        ("deformable_weights", {"w": (3, 2, 2, 2)}, "the data's channels do not fit the weight"),
        ("deformable_weights", {"w": (4, 2, 1, 2)}, "the offset or mask does not have"),
        ("deformable_weights", {"o": (2, 8, 3, 5)}, "the offset or mask does not have"),
    ],
)
def test_sizes_that_disagree_at_run_time_are_located_errors(name, bad, message):
    module = load_program(HEADER + PROGRAMS[name], "relay", filename="fit.rly").module
    exe = compile(module, opt=0, cache=False)
    inputs = _sizes(name, 1, np.random.default_rng(0))
    if name == "roi_align":
        inputs["r"] = np.zeros((2, 5), np.float32)  # regions of image 0: some to sample
    exe(**inputs)  # sizes that fit
    for arg, shape in bad.items():
        inputs[arg] = np.zeros(shape, inputs[arg].dtype)
    with pytest.raises(RelayError, match=message) as e:
        exe(**inputs)
    assert str(location_of(e.value.at)).startswith("fit.rly:")
    # The interpreter says it too (broadcasting: in numpy's words).
    with pytest.raises(RelayError, match=f"{message}|could not be broadcast"):
        interpret(module, inputs)


def test_looped_det_matches_numpy():
    module = load_program(HEADER + PROGRAMS["det"], "relay").module
    exe = compile(module, opt=3, cache=False)
    rng = np.random.default_rng(5)
    for batch, m in ((2, 1), (3, 5), (1, 9)):
        x = rng.standard_normal((batch, m, m)).astype(np.float32)
        y = rng.standard_normal((2, 3, 3))
        z = np.eye(14, dtype=np.float16) * 1.5
        got = exe(x, y, z)
        np.testing.assert_allclose(got[0], np.linalg.det(x), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got[1], np.linalg.det(y), rtol=1e-12, atol=1e-12)
        assert got[2] == np.float16(1.5**14)
