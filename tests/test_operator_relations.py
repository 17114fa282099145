"""Each operator's type relation against the shape and dtype its numpy semantics produce.

Every registered operator must have cases here (random shapes, seeded); an
operator added to the registry without them fails `test_every_operator_has_cases`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pytest
from xdsl.dialects.builtin import TupleType

from relay_opt.dialects.relay.numpy_dtypes import relay_dtype
from relay_opt.dialects.relay.registry import TypeRelationError, all_ops, lookup
from relay_opt.dialects.relay.types import DYNAMIC, tensor_type, tuple_type

Case = tuple[list, dict]  # operand arrays (tuples of arrays for tuple operands), attributes


def rand_shape(rng, rank: int, lo: int = 1, hi: int = 5) -> tuple[int, ...]:
    return tuple(int(d) for d in rng.integers(lo, hi + 1, rank))


def r(rng, lo: int = 1, hi: int = 5) -> int:
    """A random dimension."""
    return int(rng.integers(lo, hi + 1))


def arr(rng, shape, dtype="float32", positive=False) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        x = rng.standard_normal(shape)
        return (np.abs(x) + 0.5 if positive else x).astype(dtype)
    return rng.integers(1 if positive else -5, 6, shape).astype(dtype)


def unary(dtype="float32", positive=False) -> Callable:
    return lambda rng: [([arr(rng, rand_shape(rng, int(rng.integers(0, 4))), dtype, positive)], {})]


def binary(dtype="float32", positive=False) -> Callable:
    def cases(rng):
        out = []
        for _ in range(3):
            a = rand_shape(rng, int(rng.integers(1, 4)))
            b = tuple(1 if rng.random() < 0.3 else d for d in a[int(rng.integers(0, len(a))) :])
            out.append(([arr(rng, a, dtype, positive), arr(rng, b, dtype, positive)], {}))
        return out

    return cases


def nchw(rng, c=None):  # noqa: ANN001, ANN201
    return (
        int(rng.integers(1, 3)),
        c or int(rng.integers(1, 4)),
        int(rng.integers(5, 9)),
        int(rng.integers(5, 9)),
    )


CASES: dict[str, Callable] = {}
for name in [
    "exp",
    "sqrt",
    "rsqrt",
    "log",
    "tanh",
    "sigmoid",
    "erf",
    "floor",
    "ceil",
    "round",
    "sin",
    "cos",
    "tan",
    "sinh",
    "cosh",
    "asin",
    "acos",
    "atan",
    "asinh",
    "acosh",
    "atanh",
    "log2",
    "log10",
    "trunc",
]:
    # TVM types these on integers too (as the integer type): computed in float64, converted
    # back saturating; -5..5 takes log and sqrt of zero and negatives (-inf, NaN).
    CASES[name] = lambda rng: [
        *unary(positive=True)(rng),
        *unary("int32")(rng),
        *unary("uint8")(rng),
        *unary("int64")(rng),
    ]
for name in ["negative", "abs", "nn.relu"]:
    CASES[name] = unary("int32")
CASES["logical_not"] = unary("bool")
CASES["nn.leaky_relu"] = lambda rng: [([arr(rng, rand_shape(rng, 2))], {"alpha": 0.1})]
CASES["clip"] = lambda rng: [([arr(rng, rand_shape(rng, 3))], {"a_min": -0.5, "a_max": 0.5})]
CASES["cast"] = lambda rng: [
    ([arr(rng, (3,), positive=True)], {"dtype": d}) for d in ("int8", "float16", "bool", "uint8")
]
CASES["reinterpret"] = lambda rng: (
    [([arr(rng, (3,))], {"dtype": d}) for d in ("int32", "uint32", "float32")]
    + [([arr(rng, (2, 2), "float16")], {"dtype": "int16"})]
)
for name in [
    "add",
    "subtract",
    "multiply",
    "divide",
    "maximum",
    "minimum",
    "mod",
    "floor_divide",
    "power",
]:
    CASES[name] = binary(positive=True)
for name in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    CASES[name] = binary("int64")
for name in ["logical_and", "logical_or"]:
    CASES[name] = binary("bool")
for name in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    CASES[name] = lambda rng: [
        *binary("int32")(rng),
        *binary("uint8")(rng),
        *binary("int64")(rng),
        *binary("bool")(rng),
    ]
CASES["bitwise_not"] = lambda rng: [
    *unary("int8")(rng),
    *unary("uint16")(rng),
    *unary("int64")(rng),
    *unary("bool")(rng),
]


def _shift_cases(rng):
    out = []
    for dtype in ("int8", "int32", "uint8", "uint64", "int64"):
        bits = np.dtype(dtype).itemsize * 8
        a = rng.integers(-100 if dtype.startswith("int") else 0, 100, (2, r(rng))).astype(dtype)
        # In-range amounts, the largest one, and out-of-range ones (numpy: every bit shifted out).
        b = np.array([0, 1, 3, bits - 1, bits, bits + 5], dtype=dtype)[
            rng.integers(0, 6, (r(rng), 1, 1))
        ]
        out.append(([a, b], {}))
    # A negative amount (signed) is out of range too: numpy compares it unsigned.
    out.append(([np.array([-7, 7], np.int16), np.array([-1, 2], np.int16)], {}))
    return out


CASES["left_shift"] = _shift_cases
CASES["right_shift"] = _shift_cases
CASES["where"] = lambda rng: [
    ([arr(rng, (r(rng), 1, 3), "bool"), arr(rng, (r(rng), 3)), arr(rng, (1,))], {})
]


def _conv_cases(rng):
    out = []
    for groups, padding, strides, dilation in [
        (1, [1, 1], [1, 1], [1, 1]),
        (2, [0, 1, 2, 0], [2, 1], [1, 2]),
        (4, [1], [2, 2], [1, 1]),
    ]:
        n, _, h, w = nchw(rng)
        cin = 4
        x = arr(rng, (n, cin, h + 4, w + 4))
        wt = arr(rng, (8, cin // groups, 3, 3))
        out.append(
            (
                [x, wt],
                {"padding": padding, "strides": strides, "dilation": dilation, "groups": groups},
            )
        )
    x = arr(rng, (1, 7, 7, 3))
    out.append(
        (
            [x, arr(rng, (3, 3, 3, 5))],
            {"data_layout": "NHWC", "kernel_layout": "HWIO", "padding": [1, 1]},
        )
    )
    # TVM's blocked layouts: NCHW3c data into NCHW4c, grouped (2 groups of 2 input and 2
    # output blocks), and depthwise NCHW4c
    out.append(
        (
            [arr(rng, (1, 4, 6, 5, 3)), arr(rng, (4, 2, 3, 2, 3, 4))],
            {
                "data_layout": "NCHW3c",
                "kernel_layout": "OIHW3i4o",
                "out_layout": "NCHW4c",
                "groups": 2,
                "padding": [1, 0],
            },
        )
    )
    out.append(
        (
            [arr(rng, (1, 2, 6, 5, 3)), arr(rng, (2, 2, 3, 2, 3, 4))],
            {"data_layout": "NCHW3c", "kernel_layout": "OIHW3i4o", "out_layout": "NCHW4c"},
        )
    )
    out.append(
        (
            [arr(rng, (2, 2, 7, 6, 4)), arr(rng, (2, 1, 3, 3, 1, 4))],
            {
                "data_layout": "NCHW4c",
                "kernel_layout": "OIHW1i4o",
                "groups": 8,
                "strides": [2, 1],
                "padding": [1, 0, 2, 1],
                "dilation": [1, 2],
            },
        )
    )
    return out


CASES["nn.conv2d"] = _conv_cases


def _conv_transpose_cases(rng):
    out = []
    for groups, padding, strides, dilation, output_padding in [
        (1, [0, 0], [1, 1], [1, 1], [0, 0]),
        (1, [1, 0, 2, 1], [2, 3], [1, 2], [1, 2]),
        (2, [1], [2, 2], [1, 1], [1, 0]),
        (4, [2, 2], [1, 1], [2, 2], [0, 0]),
    ]:
        n, _, h, w = nchw(rng)
        out.append(
            (
                [arr(rng, (n, 4, h - 2, w - 3)), arr(rng, (4, r(rng, 1, 3), 3, 2))],
                {
                    "padding": padding,
                    "strides": strides,
                    "dilation": dilation,
                    "groups": groups,
                    "output_padding": output_padding,
                },
            )
        )
    out.append(
        ([arr(rng, (1, 2, 3, 3), "int32"), arr(rng, (2, 2, 2, 2), "int32")], {"strides": [2, 2]})
    )
    return out


CASES["nn.conv2d_transpose"] = _conv_transpose_cases
CASES["nn.dense"] = lambda rng: [
    ([arr(rng, (2, r(rng), 5)), arr(rng, (r(rng), 5))], {}),
    ([arr(rng, (1, 7)), arr(rng, (3, 7))], {"units": 3}),
]
CASES["nn.matmul"] = lambda rng: [
    ([arr(rng, (r(rng), 5)), arr(rng, (5, r(rng)))], {}),
    ([arr(rng, (5, 2)), arr(rng, (3, 5))], {"transpose_a": True, "transpose_b": True}),
]
CASES["nn.batch_matmul"] = lambda rng: [
    ([arr(rng, (2, r(rng), 4)), arr(rng, (2, 5, 4))], {"transpose_b": True}),
    ([arr(rng, (1, 3, 4)), arr(rng, (3, 4, 2))], {}),
]
CASES["nn.bias_add"] = lambda rng: [
    ([arr(rng, (2, 3, k := r(rng))), arr(rng, (3,))], {}),
    ([arr(rng, (2, 3, k)), arr(rng, (k,))], {"axis": -1}),
]
CASES["nn.prelu"] = lambda rng: [([arr(rng, (2, 3, r(rng))), arr(rng, (3,))], {})]
CASES["nn.softmax"] = lambda rng: [
    ([arr(rng, (r(rng), 5))], {}),
    ([arr(rng, (2, r(rng), 3))], {"axis": 1}),
]
CASES["nn.log_softmax"] = CASES["nn.softmax"]


def _pool_cases(rng):
    return [
        ([arr(rng, nchw(rng))], {"pool_size": [2, 2], "strides": [2, 2]}),
        (
            [arr(rng, (1, 2, 7, 6))],
            {"pool_size": [3, 3], "strides": [2, 2], "padding": [1, 1], "ceil_mode": True},
        ),
        ([arr(rng, (1, 7, 6, 2))], {"pool_size": [3, 2], "layout": "NHWC", "dilation": [2, 1]}),
    ]


CASES["nn.max_pool2d"] = _pool_cases
CASES["nn.avg_pool2d"] = lambda rng: (
    _pool_cases(rng)
    + [
        (
            [arr(rng, (1, 2, 5, 5))],
            {"pool_size": [3, 3], "padding": [1, 1], "count_include_pad": True},
        )
    ]
)
CASES["nn.global_avg_pool2d"] = lambda rng: [
    ([arr(rng, nchw(rng))], {}),
    ([arr(rng, (1, 4, 4, 3))], {"layout": "NHWC"}),
]
CASES["nn.global_max_pool2d"] = CASES["nn.global_avg_pool2d"]
CASES["nn.adaptive_avg_pool2d"] = lambda rng: [
    ([arr(rng, (1, 3, 7, 9))], {"output_size": [r(rng), 4]}),
    ([arr(rng, (1, 3, 5, 5))], {"output_size": [1]}),
]


def _bn(rng):
    c = 3
    vec = [arr(rng, (c,)), arr(rng, (c,)), arr(rng, (c,)), arr(rng, (c,), positive=True)]
    return [
        ([arr(rng, (2, c, r(rng), 4)), *vec], {}),
        ([arr(rng, (2, 4, c)), *vec], {"axis": -1, "epsilon": 1e-3}),
    ]


CASES["nn.batch_norm"] = _bn
CASES["nn.layer_norm"] = lambda rng: [
    ([arr(rng, (2, r(rng), 6)), arr(rng, (6,)), arr(rng, (6,))], {})
]
CASES["nn.instance_norm"] = lambda rng: [
    ([arr(rng, (2, 3, r(rng), 4)), arr(rng, (3,)), arr(rng, (3,))], {}),
    ([arr(rng, (2, 5, 3)), arr(rng, (3,)), arr(rng, (3,))], {"axis": -1, "epsilon": 1e-3}),
    ([arr(rng, (1, 2, 5)), arr(rng, (2,)), arr(rng, (2,))], {"center": False, "scale": False}),
]
CASES["nn.group_norm"] = lambda rng: [
    ([arr(rng, (2, 6, r(rng), 3)), arr(rng, (6,)), arr(rng, (6,))], {"num_groups": 3}),
    ([arr(rng, (1, 4, 5)), arr(rng, (4,)), arr(rng, (4,))], {"num_groups": 1, "scale": False}),
    (
        [arr(rng, (2, 3, 4)), arr(rng, (4,)), arr(rng, (4,))],
        {"num_groups": 2, "axis": -1, "epsilon": 1e-2},
    ),
]
CASES["nn.l2_normalize"] = lambda rng: [
    ([arr(rng, (2, r(rng), 3))], {"eps": 1e-10, "axis": [1]}),
    ([arr(rng, (2, 3, 4))], {"eps": 1e-4, "axis": [0, -1]}),
    ([arr(rng, (3, r(rng)))], {"eps": 1e-10}),
    ([np.zeros((2, 3), np.float32)], {"eps": 1e-6, "axis": [1]}),
]
CASES["nn.dropout"] = lambda rng: [([arr(rng, rand_shape(rng, 2))], {"rate": 0.2})]
CASES["nn.pad"] = lambda rng: [
    ([arr(rng, (2, 3)), np.float32(0.5)], {"pad_width": [[1, 0], [2, 3]]}),
    ([arr(rng, (2, 3)), np.float32(0)], {"pad_width": [[1, 1], [1, 1]], "pad_mode": "edge"}),
    ([arr(rng, (4, 5)), np.float32(0)], {"pad_width": [[2, 1], [0, 3]], "pad_mode": "reflect"}),
    # The pad value is converted to the data's dtype, as TVM's cast does.
    ([arr(rng, (2, 3), "float16"), np.int32(7)], {"pad_width": [[1, 0], [0, 2]]}),
    ([arr(rng, (3,), "int32"), np.float32(-2.75)], {"pad_width": [[2, 1]]}),
]
CASES["nn.batch_flatten"] = lambda rng: [([arr(rng, rand_shape(rng, 3))], {})]

for name in ["sum", "mean", "max", "min", "prod"]:
    CASES[name] = lambda rng: [
        ([arr(rng, (2, 3, 4))], {}),
        ([arr(rng, (2, 3, 4))], {"axis": [1], "keepdims": True}),
        ([arr(rng, (2, 3, 4))], {"axis": [0, -1], "exclude": True}),
        ([arr(rng, (3, 4), "int32")], {"axis": [0]}),
    ]
for name in ["argmax", "argmin"]:
    CASES[name] = lambda rng: [
        ([arr(rng, (2, 3, 4))], {"axis": [1]}),
        ([arr(rng, (3, 4))], {}),
        ([arr(rng, (3, 4))], {"axis": [1], "keepdims": True, "select_last_index": True}),
    ]
CASES["variance"] = lambda rng: [
    ([arr(rng, (2, r(rng), 4)), arr(rng, (2, 1, 4))], {"axis": [1]}),
    ([arr(rng, (5,)), arr(rng, (1,))], {"unbiased": True}),
]

CASES["reshape"] = lambda rng: [
    ([arr(rng, (2, 3, 4))], {"newshape": s})
    for s in ([6, -1], [0, -1], [-2], [-3, 4], [2, -4, 3, 1, 4], [-1], [4, 0, 2])
]
CASES["transpose"] = lambda rng: [
    ([arr(rng, rand_shape(rng, 3))], {}),
    ([arr(rng, rand_shape(rng, 3))], {"axes": [1, 0, 2]}),
]
CASES["concatenate"] = lambda rng: [([(arr(rng, (2, r(rng))), arr(rng, (2, r(rng))))], {"axis": 1})]
CASES["stack"] = lambda rng: [([(arr(rng, s := rand_shape(rng, 2)), arr(rng, s))], {"axis": -1})]
CASES["split"] = lambda rng: [
    ([arr(rng, (6, r(rng)))], {"indices_or_sections": 3}),
    ([arr(rng, (6, 4))], {"indices_or_sections": [1, 3], "axis": 0}),
]
CASES["squeeze"] = lambda rng: [
    ([arr(rng, (1, r(rng), 1))], {}),
    ([arr(rng, (1, 3, 1))], {"axis": [0]}),
]
CASES["expand_dims"] = lambda rng: [
    ([arr(rng, rand_shape(rng, 2))], {"axis": 1, "num_newaxis": 2}),
    ([arr(rng, (2, 3))], {"axis": -1}),
]
CASES["strided_slice"] = lambda rng: [
    ([arr(rng, (5, 6))], {"begin": [1, 0], "end": [4, 6], "strides": [2, 1]}),
    ([arr(rng, (5, 6))], {"begin": [-1], "end": [-6], "strides": [-1]}),
    ([arr(rng, (5, 6))], {"begin": [2], "end": [3], "axes": [1], "slice_mode": "size"}),
]
CASES["take"] = lambda rng: [
    ([arr(rng, (10, r(rng))), np.array([[1, 9], [0, 3]], np.int32)], {"axis": 0}),
    ([arr(rng, (3, 4)), np.array([2, 11], np.int64)], {}),
]


def _reverse_sequence_cases(rng):
    """Several axis pairs (negative ones too), int32 and int64 lengths; lengths of 1 and of the
    whole axis, and out-of-range ones (0, negative, longer than the axis: clamped)."""
    out = []
    for shape, seq, batch, dtype in [
        ((3, 5), 1, 0, "int32"),
        ((6, 2, 4), 0, 1, "int64"),
        ((2, 4, 3), -1, 0, "int64"),
        ((4, 3, 2), 0, 2, "int32"),
        ((2, 3, 5, 2), 2, -1, "int64"),
    ]:
        n, b = shape[seq], shape[batch]
        lengths = rng.integers(1, n + 1, b)
        lengths[0], lengths[-1] = 1, n
        x = arr(rng, shape, "int32" if dtype == "int32" else "float32")
        out.append(([x, lengths.astype(dtype)], {"seq_axis": seq, "batch_axis": batch}))
    x = arr(rng, (4, 5))
    out.append(([x, np.array([0, -3, 9, 2], np.int32)], {}))  # TVM's defaults: seq 1, batch 0
    return out


CASES["reverse_sequence"] = _reverse_sequence_cases
CASES["dyn.update_slice"] = lambda rng: [
    ([arr(rng, (5, 3)), arr(rng, (1, 3)), np.array([r(rng, 0, 4), 0], np.int64)], {}),
    ([arr(rng, (2, 4), "int32"), arr(rng, (2, 0), "int32"), np.array([0, 4], np.int32)], {}),
]
CASES["broadcast_to"] = lambda rng: [([arr(rng, (3, 1))], {"shape": [r(rng), 3, r(rng)]})]
CASES["tile"] = lambda rng: [([arr(rng, rand_shape(rng, 2))], {"reps": [2, 1, r(rng)]})]
CASES["repeat"] = lambda rng: [([arr(rng, rand_shape(rng, 2))], {"repeats": r(rng), "axis": 1})]
CASES["zeros"] = lambda rng: [([], {"shape": list(rand_shape(rng, 2)), "dtype": "int32"})]
CASES["ones"] = lambda rng: [([], {"shape": list(rand_shape(rng, 1)), "dtype": "float32"})]
CASES["full"] = lambda rng: [
    ([np.float32(2.5)], {"shape": list(rand_shape(rng, 2))}),
    ([np.int64(3)], {"shape": [3], "dtype": "int8"}),
]
CASES["zeros_like"] = unary()
CASES["ones_like"] = unary("int32")
CASES["copy"] = unary("int8")
CASES["shape_of"] = lambda rng: [
    *unary()(rng),
    ([arr(rng, (2, 0, 3), "int8")], {"dtype": "int64"}),
    ([arr(rng, rand_shape(rng, 4), "bool")], {"dtype": "int32"}),
]
CASES["ndarray_size"] = CASES["shape_of"]
CASES["broadcast_to_like"] = lambda rng: [
    ([arr(rng, (3, 1)), arr(rng, (r(rng), 3, r(rng)))], {}),
    ([arr(rng, ()), arr(rng, (2, 2), "int32")], {}),
]
CASES["collapse_sum_like"] = lambda rng: [
    ([arr(rng, (2, 3, 4)), arr(rng, (3, 1))], {}),
    ([arr(rng, (2, 3), "int32"), arr(rng, ())], {}),
    ([arr(rng, (2, 3)), arr(rng, (2, 3))], {}),
]
CASES["collapse_sum_to"] = lambda rng: [
    ([arr(rng, (r(rng), 3, 4))], {"shape": [1, 4]}),
    ([arr(rng, (2, 5))], {"shape": [5]}),
]
CASES["reshape_like"] = lambda rng: [
    ([arr(rng, (2, 3, 4)), arr(rng, (6, 4))], {}),
    ([arr(rng, (2, 3, 4)), arr(rng, (5, 12))], {"lhs_begin": 1, "rhs_begin": 1}),
    ([arr(rng, (2, 3, 4)), arr(rng, (4, 6, 2))], {"lhs_end": 2, "rhs_begin": 1, "rhs_end": -1}),
]
CASES["layout_transform"] = lambda rng: [
    ([arr(rng, (1, 8, 3, 2))], {"src_layout": "NCHW", "dst_layout": "NHWC"}),
    ([arr(rng, (1, 8, 3, 2))], {"src_layout": "NCHW", "dst_layout": "NCHW4c"}),
    ([arr(rng, (1, 2, 3, 2, 4))], {"src_layout": "NCHW4c", "dst_layout": "NHWC"}),
]
CASES["image.resize2d"] = lambda rng: [
    ([arr(rng, (1, 2, 4, 5))], {"size": [r(rng, 2, 9), 3]}),
    ([arr(rng, (1, 4, 5, 2))], {"size": [2, 7], "layout": "NHWC", "method": "nearest_neighbor"}),
]


def _grid_sample_cases(rng) -> list[Case]:  # noqa: ANN001
    """Grid positions a little past [-1, 1] on every padding mode; 5-d data too."""
    out: list[Case] = []
    for padding in ("zeros", "border", "reflection"):
        method = str(rng.choice(["nearest", "bilinear", "bicubic"]))
        n, c = r(rng, 1, 2), r(rng, 1, 3)
        x = arr(rng, (n, c, r(rng, 1, 5), r(rng, 2, 6)))
        grid = rng.uniform(-1.4, 1.4, (n, 2, r(rng, 1, 4), r(rng, 1, 4))).astype("float32")
        attrs = {
            "method": method,
            "padding_mode": padding,
            "align_corners": bool(rng.random() < 0.5),
        }
        out.append(([x, grid], attrs))
    x = arr(rng, (1, 2, 3, 4, 2), "float64")
    grid = rng.uniform(-1.2, 1.2, (1, 3, 2, 3, 2))
    attrs = {"layout": "NCDHW", "method": str(rng.choice(["nearest", "bilinear"]))}
    out.append(([x, grid], {**attrs, "padding_mode": str(rng.choice(["zeros", "reflection"]))}))
    return out


CASES["image.grid_sample"] = _grid_sample_cases


def _rois(rng, count: int, batch: int, h: int, w: int, dtype: str = "float32") -> np.ndarray:  # noqa: ANN001
    """Regions (batch index, x1, y1, x2, y2) partly outside the image, some of them tiny."""
    x1 = rng.uniform(-2, w, count)
    y1 = rng.uniform(-2, h, count)
    x2 = x1 + rng.uniform(0, w, count)
    y2 = y1 + rng.uniform(0, h, count)
    index = rng.integers(0, batch, count)
    return np.stack([index, x1, y1, x2, y2], axis=1).astype(dtype)


CASES["vision.roi_align"] = lambda rng: [
    (
        [arr(rng, (2, 3, 6, 7)), _rois(rng, 4, 2, 6, 7)],
        {"pooled_size": [r(rng, 1, 3), r(rng, 1, 3)], "mode": str(rng.choice(["avg", "max"]))},
    ),
    (
        [arr(rng, (1, 2, 5, 5), "float64"), _rois(rng, 3, 1, 10, 10, "float64")],
        {"pooled_size": [2, 2], "spatial_scale": 0.5, "sample_ratio": 2, "aligned": True},
    ),
]

CASES["det"] = lambda rng: [
    ([arr(rng, (r(rng, 1, 3), 3, 3))], {}),
    ([arr(rng, (5, 5), "float64")], {}),
    ([arr(rng, (2, 1, 1))], {}),
    ([arr(rng, (r(rng, 1, 2), 2, 4, 4), "float16")], {}),
]


def _unpool_case(rng, dtype: str, idtype: str) -> Case:  # noqa: ANN001
    """Indices anywhere in the output, some repeated, some outside it (dropped)."""
    x = arr(rng, (r(rng, 1, 2), 2, 2, 3), dtype)
    shape = [x.shape[0], 2, 4, r(rng, 5, 6)]
    size = int(np.prod(shape))
    indices = rng.integers(-2, size + 2, x.shape).astype(idtype)
    indices.reshape(-1)[-1] = indices.reshape(-1)[0]
    return [x, indices], {"shape": shape}


CASES["nn.max_unpool"] = lambda rng: [
    _unpool_case(rng, "float32", "int64"),
    _unpool_case(rng, "int8", "int32"),
]


def _deform_case(rng, dtype: str, groups: int, dg: int, attrs: dict) -> Case:  # noqa: ANN001
    """Offsets of a few pixels (taps land outside the data too) and masks in [0, 1)."""
    n, c, h, w = r(rng, 1, 2), 2 * groups * dg, r(rng, 3, 6), r(rng, 3, 6)
    kh, kw = r(rng, 1, 3), r(rng, 1, 3)
    oc = groups * r(rng, 1, 2)
    (sh, sw), (dh, dw) = attrs.get("strides", [1, 1]), attrs.get("dilation", [1, 1])
    top, left, bottom, right = attrs.get("padding", [0, 0, 0, 0])
    oh = (h + top + bottom - (kh - 1) * dh - 1) // sh + 1
    ow = (w + left + right - (kw - 1) * dw - 1) // sw + 1
    x = arr(rng, (n, c, h, w), dtype)
    offset = (rng.standard_normal((n, dg * kh * kw * 2, oh, ow)) * 2).astype(dtype)
    weight = arr(rng, (oc, c // groups, kh, kw), dtype)
    mask = rng.random((n, dg * kh * kw, oh, ow)).astype(dtype)
    return [x, offset, weight, mask], {**attrs, "groups": groups, "deformable_groups": dg}


CASES["nn.modulated_deformable_conv2d"] = lambda rng: [
    _deform_case(rng, "float32", 1, 1, {"padding": [1, 1, 1, 1]}),
    _deform_case(rng, "float32", 2, 2, {"strides": [2, 1], "dilation": [1, 2]}),
    _deform_case(rng, "float64", 1, 2, {"padding": [0, 1, 2, 0]}),
]


def test_every_operator_has_cases():
    # their results' dims are ?: tested below
    dynamic = ("arange", "dyn.reshape", "dyn.strided_slice", "dyn.broadcast_to", "dyn.tile")
    dynamic += ("vision.non_max_suppression", "unique")  # tests/test_value_sized_ops.py
    missing = sorted(op.name for op in all_ops() if op.name not in CASES and op.name not in dynamic)
    assert not missing, f"operators without relation test cases: {missing}"
    assert len(list(all_ops())) >= 80


def test_every_operator_class_is_bound_to_its_name():
    """Passes import operator classes by name (`ops.nn.Conv2D`): each class is reachable
    from its family module under its own name, and its declaration from the class."""
    import importlib

    from relay_opt.dialects.relay.ops.nn import BatchNorm, Conv2D

    for opdef in all_ops():
        cls = opdef.op_class
        assert getattr(importlib.import_module(cls.__module__), cls.__name__) is cls, opdef.name
        assert cls.OPDEF is opdef and cls.name == "relay." + opdef.name
    assert Conv2D.OPDEF is lookup("nn.conv2d") and BatchNorm.name == "relay.nn.batch_norm"


def type_of(value):  # noqa: ANN001, ANN201
    if isinstance(value, tuple):
        return tuple_type([type_of(v) for v in value])
    a = np.asarray(value)
    return tensor_type(a.shape, relay_dtype(a.dtype))


def check_relation(name: str, operands: list, attrs: dict) -> None:
    opdef = lookup(name)
    full = opdef.make_attrs(attrs)
    values = [v if isinstance(v, tuple) else np.asarray(v) for v in operands]
    got = opdef.compute(full, *values)
    inferred = opdef.infer([type_of(v) for v in values], full)
    if isinstance(got, tuple):
        assert isinstance(inferred, TupleType)
        assert inferred == type_of(tuple(got)), (name, attrs)
    else:
        assert inferred == type_of(got), (name, attrs, inferred, got.shape, got.dtype)


def cases(name: str, rounds: int = 3) -> list[Case]:
    """The operator's cases, generated `rounds` times from different seeds (random shapes differ)."""
    out: list[Case] = []
    for k in range(rounds):
        out.extend(CASES[name](np.random.default_rng(zlib.crc32(f"{name}/{k}".encode()))))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_relation_matches_numpy(name):
    for operands, attrs in cases(name):
        check_relation(name, operands, attrs)


def test_dyn_reshape_has_a_dim_per_element_of_its_new_shape():
    opdef = lookup("dyn.reshape")
    x, attrs = tensor_type((2, 6), "float32"), opdef.make_attrs({})
    assert opdef.infer([x, tensor_type((3,), "int64")], attrs) == tensor_type(
        [DYNAMIC] * 3, "float32"
    )
    got = opdef.compute(attrs, np.arange(12.0).reshape(2, 6), np.array([3, 2, 2]))
    np.testing.assert_array_equal(got, np.arange(12.0).reshape(3, 2, 2))
    for bad in (tensor_type((2, 3), "int64"), tensor_type((3,), "float32")):
        with pytest.raises(TypeRelationError, match="newshape must be a 1-D integer tensor"):
            opdef.infer([x, bad], attrs)


def test_dyn_strided_slice_reads_begin_and_size_at_run_time():
    opdef = lookup("dyn.strided_slice")
    x, index = tensor_type((5, 6), "float32"), tensor_type((2,), "int64")
    attrs = opdef.make_attrs({"strides": [1, 2]})
    assert opdef.infer([x, index, index], attrs) == tensor_type([DYNAMIC] * 2, "float32")
    data = np.arange(30.0).reshape(5, 6)
    got = opdef.compute(attrs, data, np.array([1, 1]), np.array([3, 3]))
    np.testing.assert_array_equal(got, data[1:4, 1::2])
    with pytest.raises(TypeRelationError, match="strides \\[0, 1\\] must be positive"):
        opdef.infer([x, index, index], opdef.make_attrs({"strides": [0, 1]}))
    with pytest.raises(TypeRelationError, match="begin must be a 1-D integer tensor"):
        opdef.infer([x, tensor_type((3,), "int64"), index], attrs)


def test_dyn_update_slice_writes_where_begin_says():
    opdef = lookup("dyn.update_slice")
    x, attrs = tensor_type((5, 6), "float32"), opdef.make_attrs({})
    index = tensor_type((2,), "int64")
    assert opdef.infer([x, tensor_type((2, 6), "float32"), index], attrs) == x
    data = np.zeros((5, 6))
    got = opdef.compute(attrs, data, np.ones((2, 3)), np.array([3, 1]))
    np.testing.assert_array_equal(got[3:5, 1:4], 1)
    assert got.sum() == 6 and data.sum() == 0
    with pytest.raises(ValueError, match="axis 1 writes outside the data \\(the update at 4"):
        opdef.compute(attrs, data, np.ones((2, 3)), np.array([0, 4]))
    with pytest.raises(ValueError, match="begin's length is not the data's rank \\(3 elements"):
        opdef.compute(attrs, data, np.ones((2, 3)), np.array([0, 1, 2]))
    # `?` sizes of the update and a `?`-long begin are read (and checked) when it runs.
    dynamic = tensor_type((DYNAMIC, 6), "float32")
    assert opdef.infer([x, dynamic, tensor_type((DYNAMIC,), "int64")], attrs) == x
    for update, message in [
        (tensor_type((6, 1), "float32"), "must fit in the data's"),
        (tensor_type((DYNAMIC, 7), "float32"), "must fit in the data's"),
        (tensor_type((1, 1), "int32"), "must be a float32 tensor of the data's rank 2"),
    ]:
        with pytest.raises(TypeRelationError, match=message):
            opdef.infer([x, update, index], attrs)
    with pytest.raises(TypeRelationError, match="begin must be a 1-D integer tensor"):
        opdef.infer([x, tensor_type((1, 1), "float32"), tensor_type((3,), "int64")], attrs)


def test_collapse_sum_like_to_a_question_mark_target_decides_at_run_time():
    opdef = lookup("collapse_sum_like")
    attrs = opdef.make_attrs({})
    target = tensor_type((DYNAMIC, 1), "float32")
    assert opdef.infer([tensor_type((2, 3, 4), "float32"), target], attrs) == target
    with pytest.raises(TypeRelationError, match="cannot collapse"):  # the 4 is static
        opdef.infer(
            [tensor_type((2, 3, 4), "float32"), tensor_type((DYNAMIC, 2), "float32")], attrs
        )
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for shape, want in (
        ((3, 1), x.sum(0).sum(1, keepdims=True)),
        ((1, 1), x.sum(keepdims=True)[0]),
    ):
        np.testing.assert_array_equal(opdef.compute(attrs, x, np.zeros(shape, np.float32)), want)
    with pytest.raises(ValueError, match="axis 0 is neither 1 nor the data's size \\(2, not 3\\)"):
        opdef.compute(attrs, x, np.zeros((2, 1), np.float32))


def test_dyn_broadcast_to_reads_its_shape_at_run_time():
    opdef = lookup("dyn.broadcast_to")
    x, attrs = tensor_type((3, 1), "float32"), opdef.make_attrs({})
    assert opdef.infer([x, tensor_type((3,), "int64")], attrs) == tensor_type(
        [DYNAMIC] * 3, "float32"
    )
    got = opdef.compute(attrs, np.arange(3.0).reshape(3, 1), np.array([2, 3, 4]))
    np.testing.assert_array_equal(got, np.broadcast_to(np.arange(3.0).reshape(3, 1), (2, 3, 4)))
    with pytest.raises(TypeRelationError, match="at least the data's rank 2"):
        opdef.infer([x, tensor_type((1,), "int64")], attrs)


def test_dyn_tile_reads_its_repetitions_at_run_time():
    opdef = lookup("dyn.tile")
    x, attrs = tensor_type((2, 3), "float32"), opdef.make_attrs({})
    assert opdef.infer([x, tensor_type((3,), "int64")], attrs) == tensor_type(
        [DYNAMIC] * 3, "float32"
    )
    got = opdef.compute(attrs, np.arange(6.0).reshape(2, 3), np.array([2, 1, 2]))
    np.testing.assert_array_equal(got, np.tile(np.arange(6.0).reshape(2, 3), (2, 1, 2)))
    with pytest.raises(TypeRelationError, match="reps must be a 1-D integer tensor"):
        opdef.infer([x, tensor_type((2,), "float32")], attrs)


def test_arange_is_dynamic_until_its_operands_are_known():
    opdef = lookup("arange")
    t = tensor_type((), "float32")
    assert opdef.infer([t, t, t], opdef.make_attrs({"dtype": "float32"})) == tensor_type(
        [DYNAMIC], "float32"
    )
    out = opdef.compute(
        opdef.make_attrs({"dtype": "int32"}), np.float32(1), np.float32(7), np.float32(2)
    )
    assert out.tolist() == [1, 3, 5] and out.dtype == np.int32


def test_reshape_codes_match_tvm_documentation():
    from relay_opt.dialects.relay.ops.transform import reshape_shape

    # Examples from TVM's reshape documentation.
    assert reshape_shape((2, 3, 4), (4, 0, 2)) == (4, 3, 2)
    assert reshape_shape((2, 3, 4), (2, 0, 0)) == (2, 3, 4)
    assert reshape_shape((2, 3, 4), (6, 1, -1)) == (6, 1, 4)
    assert reshape_shape((2, 3, 4), (3, -1, 8)) == (3, 1, 8)
    assert reshape_shape((2, 3, 4), (-1,)) == (24,)
    assert reshape_shape((2, 3, 4), (-2,)) == (2, 3, 4)
    assert reshape_shape((2, 3, 4), (2, -2)) == (2, 3, 4)
    assert reshape_shape((2, 3, 4, 5), (-3, -3)) == (6, 20)
    assert reshape_shape((2, 3, 4), (0, -3)) == (2, 12)
    assert reshape_shape((2, 3, 4), (-3, -2)) == (6, 4)
    assert reshape_shape((2, 3, 4), (-4, 1, 2, -2)) == (1, 2, 3, 4)
    assert reshape_shape((2, 3, 4), (2, -4, -1, 3, -2)) == (2, 1, 3, 4)


def test_conv2d_against_a_naive_loop():
    rng = np.random.default_rng(7)
    x, w = arr(rng, (1, 2, 5, 6)), arr(rng, (3, 2, 3, 2))
    opdef = lookup("nn.conv2d")
    got = opdef.compute(opdef.make_attrs({"padding": [1, 0, 1, 1], "strides": [2, 1]}), x, w)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 1)))
    want = np.zeros(got.shape)
    for o in range(3):
        for i in range(got.shape[2]):
            for j in range(got.shape[3]):
                want[0, o, i, j] = np.sum(xp[0, :, 2 * i : 2 * i + 3, j : j + 2] * w[o])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_against_a_naive_scatter():
    rng = np.random.default_rng(8)
    x, w = arr(rng, (2, 4, 3, 4)), arr(rng, (4, 3, 3, 2))
    opdef = lookup("nn.conv2d_transpose")
    attrs = {
        "padding": [1, 0, 2, 1],
        "strides": [2, 3],
        "dilation": [1, 2],
        "output_padding": [1, 0],
        "groups": 2,
    }
    got = opdef.compute(opdef.make_attrs(attrs), x, w)
    oh, ow = (3 - 1) * 2 + 2 + 1 - 3 + 1, (4 - 1) * 3 + 2 + 1 - 1
    want = np.zeros((2, 6, oh, ow))
    for ci in range(4):
        for o in range(3):
            for iy, ix, i, j in np.ndindex(3, 4, 3, 2):
                oy, ox = iy * 2 + i - 1, ix * 3 + j * 2
                if 0 <= oy < oh and 0 <= ox < ow:
                    want[:, (ci // 2) * 3 + o, oy, ox] += x[:, ci, iy, ix] * w[ci, o, i, j]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_reverse_sequence_against_tvms_index_rule():
    """TVM's topi reads index i if len <= 1 or len <= i, else n - 1 - i if len > n, else
    len - 1 - i: lengths below 1 copy, lengths beyond the axis reverse all of it."""
    rng = np.random.default_rng(9)
    x = arr(rng, (3, 4, 6))
    lengths = np.array([-2, 0, 1, 4, 6, 9], np.int64)  # along axis 2
    opdef = lookup("reverse_sequence")
    got = opdef.compute(opdef.make_attrs({"seq_axis": 1, "batch_axis": 2}), x, lengths)
    want = np.empty_like(x)
    n = x.shape[1]
    for a, i, b in np.ndindex(*x.shape):
        length = lengths[b]
        src = i if length <= 1 or length <= i else (n - 1 - i if length > n else length - 1 - i)
        want[a, i, b] = x[a, src, b]
    np.testing.assert_array_equal(got, want)


def test_reverse_sequence_keeps_dynamic_dims():
    q = DYNAMIC
    opdef = lookup("reverse_sequence")
    attrs = opdef.make_attrs({"seq_axis": 0, "batch_axis": 1})
    lengths = tensor_type((q,), "int64")
    assert opdef.infer([tensor_type((q, 3), "float32"), lengths], attrs) == tensor_type(
        (q, 3), "float32"
    )
    assert opdef.infer(
        [tensor_type((5, q), "int8"), tensor_type((4,), "int32")], attrs
    ) == tensor_type((5, q), "int8")


@pytest.mark.parametrize(
    "name, operands, attrs, message",
    [
        (
            "add",
            [np.zeros((2, 3)), np.zeros((4, 3))],
            {},
            r"shapes \(2, 3\) and \(4, 3\) do not broadcast",
        ),
        (
            "nn.conv2d",
            [np.zeros((1, 3, 8, 8), np.float32), np.zeros((4, 4, 3, 3), np.float32)],
            {},
            r"data has 3 input channels but weight expects 4 \(groups=1\)",
        ),
        (
            "nn.dense",
            [np.zeros((2, 5), np.float32), np.zeros((3, 4), np.float32)],
            {},
            "differs from weight's input dimension 4",
        ),
        ("reshape", [np.zeros((2, 3))], {"newshape": [4, 2]}, r"cannot reshape \(2, 3\)"),
        ("concatenate", [(np.zeros((2, 3)), np.zeros((3, 3)))], {"axis": 1}, "incompatible"),
        (
            "nn.group_norm",
            [np.zeros((1, 6, 2), np.float32), np.zeros(6, np.float32), np.zeros(6, np.float32)],
            {"num_groups": 4},
            r"6 channels \(axis 1 of data \(1, 6, 2\)\) do not split into num_groups=4",
        ),
        (
            "nn.group_norm",
            [np.zeros((1, 6, 2), np.float32), np.zeros(6, np.float32), np.zeros(6, np.float32)],
            {},
            "group_norm needs num_groups",
        ),
        (
            "nn.instance_norm",
            [np.zeros((1, 6, 2), np.float32), np.zeros(5, np.float32), np.zeros(6, np.float32)],
            {},
            r"gamma must be \(6,\) float32 for axis 1 of data \(1, 6, 2\), got \(5\) float32",
        ),
        (
            "nn.instance_norm",
            [np.zeros((1, 6), np.float32), np.zeros(6, np.float32), np.zeros(6, np.float32)],
            {},
            r"rank 3 or more, got \(1, 6\)",
        ),
        (
            "nn.l2_normalize",
            [np.zeros((2, 3), np.float32)],
            {"axis": [1]},
            "l2_normalize needs eps",
        ),
        (
            "nn.conv2d_transpose",
            [np.zeros((1, 3, 4, 4), np.float32), np.zeros((4, 2, 3, 3), np.float32)],
            {},
            r"data has 3 input channels but the weight \(IOHW\) has 4",
        ),
        (
            "nn.conv2d_transpose",
            [np.zeros((1, 4, 4, 4), np.float32), np.zeros((4, 2, 3, 3), np.float32)],
            {"groups": 2, "channels": 2},
            r"channels=2 but the weight gives 4 output channels \(2 x 2 groups\)",
        ),
        (
            "nn.conv2d_transpose",
            [np.zeros((1, 4, 1, 1), np.float32), np.zeros((4, 2, 1, 1), np.float32)],
            {"padding": [1, 1]},
            "leaves an empty output",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros((2, 1), np.int32)],
            {},
            r"seq_lengths must be 1-d, got \(2, 1\)",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros(3, np.int64)],
            {},
            r"seq_lengths has 3 lengths but batch axis 0 of data \(2, 5\) has 2",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros(2, np.float32)],
            {},
            "seq_lengths must be int32 or int64, got float32",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros(2, np.uint8)],
            {},
            "seq_lengths must be int32 or int64, got uint8",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5, 3)), np.zeros(2, np.int32)],
            {"seq_axis": -3, "batch_axis": 0},
            r"seq_axis -3 and batch_axis 0 are the same axis \(0\) of rank 3 data",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros(2, np.int32)],
            {"seq_axis": 2},
            "seq_axis 2 is out of range for rank 2",
        ),
        (
            "reverse_sequence",
            [np.zeros((2, 5)), np.zeros(2, np.int32)],
            {"batch_axis": -3},
            "batch_axis -3 is out of range for rank 2",
        ),
        (
            "reverse_sequence",
            [np.zeros(5), np.zeros(5, np.int32)],
            {},
            "reverse_sequence needs data of rank 2 or more",
        ),
        # A reduction of a scalar names no axis (ONNX ArgMax of a scalar crashed the lowering)
        ("argmax", [np.float32(1)], {"axis": [0]}, r"axis \[0\] is out of range for rank 0"),
        ("sum", [np.float32(1)], {"axis": [0]}, r"axis \[0\] is out of range for rank 0"),
    ],
)
def test_relation_errors_name_both_shapes(name, operands, attrs, message):
    opdef = lookup(name)
    with pytest.raises(TypeRelationError, match=message):
        opdef.infer(
            [type_of(v if isinstance(v, tuple) else np.asarray(v)) for v in operands],
            opdef.make_attrs(attrs),
        )


def test_dynamic_dims_propagate():
    q = DYNAMIC
    add = lookup("add")
    assert add.infer(
        [tensor_type((q, 3), "float32"), tensor_type((3,), "float32")], add.make_attrs()
    ) == tensor_type((q, 3), "float32")
    dense = lookup("nn.dense")
    assert dense.infer(
        [tensor_type((q, 8), "float32"), tensor_type((4, 8), "float32")], dense.make_attrs()
    ) == tensor_type((q, 4), "float32")
    conv = lookup("nn.conv2d")
    t = conv.infer(
        [tensor_type((q, 3, q, 8), "float32"), tensor_type((4, 3, 3, 3), "float32")],
        conv.make_attrs({"padding": [1, 1]}),
    )
    assert t == tensor_type((q, 4, q, 8), "float32")
    reshape = lookup("reshape")
    assert reshape.infer(
        [tensor_type((q, 6), "float32")], reshape.make_attrs({"newshape": [-1, 3]})
    ) == tensor_type((q, 3), "float32")
