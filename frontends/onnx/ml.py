"""ONNX's classical machine-learning operators (domain ai.onnx.ml) that compute on tensors:
ArrayFeatureExtractor, Binarizer, Scaler, Normalizer, LinearRegressor and TreeEnsemble, as
ONNX's reference and onnxruntime compute them (features on the last axis; a 1-d input is one
row).
"""

from __future__ import annotations

import numpy as np

from relay_opt.frontends.onnx.importer import Node, Value, converter
from relay_opt.frontends.onnx.ops import matmul_values

_ML = "ai.onnx.ml"


def _rows(n: Node, x: Value) -> Value:
    """x as [rows, features] (a vector is one row; ONNX's ML operators take 1-d or 2-d)."""
    if n.rank(x) == 1:
        return n.reshape(x, [1, n.shape(x)[0]])
    if n.rank(x) != 2:
        raise n.error(f"the input must be 1-d or 2-d, not {n.rank(x)}-d")
    return x


def _float_features(n: Node, x: Value) -> Value:
    """Integer features compute in float32 (the operators' outputs are float tensors)."""
    return x if n.dtype(x).startswith("float") else n.cast(x, "float32")


@converter("ArrayFeatureExtractor", domain=_ML)
def array_feature_extractor(n: Node) -> Value:
    """x[..., indices] (the indices flattened); a vector's result is one row."""
    x = n.required(0)
    indices = n.reshape(n.required(1), [int(np.prod(n.shape(n.required(1))))])
    picked = n.op("take", x, n.cast(indices, "int64"), axis=n.rank(x) - 1)
    return n.reshape(picked, [1, n.shape(picked)[0]]) if n.rank(x) == 1 else picked


@converter("Binarizer", domain=_ML)
def binarizer(n: Node) -> Value:
    x = n.required(0)
    return n.cast(n.op("greater", x, n.scalar(n.attr("threshold", 0.0), x)), n.dtype(x))


@converter("Scaler", domain=_ML)
def scaler(n: Node) -> Value:
    """(x - offset) * scale, per feature (one value for all when a single one is given)."""
    x = _float_features(n, n.required(0))
    offset = np.asarray(n.attr("offset", [0.0]), dtype=n.dtype(x))
    scale = np.asarray(n.attr("scale", [1.0]), dtype=n.dtype(x))
    features = n.shape(x)[-1]
    for name, v in (("offset", offset), ("scale", scale)):
        if v.size not in (1, features):
            raise n.error(f"{name} has {v.size} values for {features} features")
    return n.op("multiply", n.op("subtract", x, offset), scale)


@converter("Normalizer", domain=_ML)
def normalizer(n: Node) -> Value:
    """Each row divided by its MAX, L1 or L2 norm, left as it is where that is 0, as
    onnxruntime computes it. MAX is the row's largest value, as the spec (x / max(x)) says;
    ONNX's reference takes the largest magnitude and divides by at least 1e-30 instead."""
    x = _float_features(n, _rows(n, n.required(0)))
    norm = n.attr("norm", "MAX")
    if norm == "MAX":
        size = n.op("max", x, axis=[1], keepdims=True)
    elif norm == "L1":
        size = n.op("sum", n.op("abs", x), axis=[1], keepdims=True)
    elif norm == "L2":
        size = n.op("sqrt", n.op("sum", n.op("multiply", x, x), axis=[1], keepdims=True))
    else:
        raise n.error(f"norm '{norm}' is none of MAX, L1, L2")
    zero = n.op("equal", size, n.scalar(0, x))
    return n.op("divide", x, n.op("where", zero, n.scalar(1, x), size))


@converter("LinearRegressor", domain=_ML)
def linear_regressor(n: Node) -> Value:
    """x @ coefficients (targets rows of features) + intercepts."""
    x = _float_features(n, _rows(n, n.required(0)))
    if n.attr("post_transform", "NONE") != "NONE":
        raise n.unsupported(f"post_transform '{n.attr('post_transform')}'")
    targets = int(n.attr("targets", 1))
    features = n.shape(x)[1]
    coefficients = np.asarray(n.attr("coefficients", []), dtype=np.float32)
    if coefficients.size != targets * features:
        raise n.error(
            f"{coefficients.size} coefficients for {targets} target(s) of {features} features"
        )
    weights = coefficients.reshape(targets, features).T.astype(n.dtype(x))
    score = matmul_values(n, x, np.ascontiguousarray(weights))
    if n.has_attr("intercepts"):
        intercepts = np.asarray(n.attr("intercepts"), dtype=weights.dtype)
        if intercepts.size not in (1, targets):
            raise n.error(f"{intercepts.size} intercepts for {targets} target(s)")
        score = n.op("add", score, intercepts)
    return score


# TreeEnsemble's nodes_modes: BRANCH_LEQ, LT, GTE, GT, EQ, NEQ (MEMBER is 6).
_BRANCHES = ("less_equal", "less", "greater_equal", "greater", "equal", "not_equal")
_MEMBER = 6


def _tree_depth(n: Node, roots: list[int], true_next: np.ndarray, false_next: np.ndarray) -> int:
    """The longest root-to-leaf path, in interior nodes (positions past the interior ones are
    leaves); a cycle or a node index out of range is an error."""
    interior = len(true_next)
    depth: dict[int, int] = {}

    def walk(k: int, seen: frozenset[int]) -> int:
        if k >= interior:
            return 0
        if k in seen:
            raise n.error(f"the trees have a cycle through node {k}")
        if k not in depth:
            below = seen | {k}
            depth[k] = 1 + max(walk(int(true_next[k]), below), walk(int(false_next[k]), below))
        return depth[k]

    return max((walk(r, frozenset()) for r in roots), default=0)


@converter("TreeEnsemble", domain=_ML)
def tree_ensemble(n: Node) -> Value:
    """Every tree walked one level per step, all trees and rows at once: the state is each
    (row, tree)'s current node, gathered from tables of the nodes' feature, split, mode and
    children (a leaf is its own child), as many steps as the deepest tree; then each tree's
    leaf weight is aggregated into its target."""
    x = _rows(n, n.required(0))
    rows, features = n.shape(x)
    dtype = n.dtype(x)
    if not dtype.startswith("float") or rows < 0 or features < 0:
        raise n.error(f"X must be a static float matrix, got {dtype} {list(n.shape(x))}")
    if n.attr("post_transform", 0) != 0:
        raise n.unsupported(f"post_transform {n.attr('post_transform')}")
    aggregate = int(n.attr("aggregate_function", 1))
    if aggregate not in (0, 1, 2, 3):
        raise n.error(f"aggregate_function {aggregate} is none of 0 to 3")
    splits = np.asarray(n.attr("nodes_splits"), dtype=np.float64).reshape(-1)
    interior = splits.size
    modes = np.asarray(n.attr("nodes_modes", np.zeros(interior)), np.int64).reshape(-1)
    ints = {
        name: np.asarray(n.attr(name, []), np.int64)
        for name in (
            "nodes_featureids",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "nodes_trueleafs",
            "nodes_falseleafs",
        )
    }
    missing = np.asarray(n.attr("nodes_missing_value_tracks_true", [0] * interior), bool)
    if any(v.size != interior for v in (modes, missing, *ints.values())):
        raise n.error(f"the nodes_* attributes do not all describe {interior} nodes")
    targets = np.asarray(n.attr("leaf_targetids", []), np.int64)
    weights = np.asarray(n.attr("leaf_weights"), np.float64).reshape(-1)
    leaves = weights.size
    roots = [int(r) for r in n.attr("tree_roots", [])]
    n_targets = int(n.attr("n_targets", int(targets.max()) + 1 if targets.size else 1))
    if targets.size != leaves or ((targets < 0) | (targets >= n_targets)).any():
        raise n.error(f"leaf_targetids must give each of the {leaves} leaves a target")
    if ((modes < 0) | (modes > _MEMBER)).any():
        raise n.error("nodes_modes must be 0 (BRANCH_LEQ) to 6 (BRANCH_MEMBER)")
    features_used = ints["nodes_featureids"]
    if ((features_used < 0) | (features_used >= features)).any():
        raise n.error(f"a feature id is out of range for {features} features")
    # One table over positions: the interior nodes, then the leaves (their own children).
    true_next = ints["nodes_truenodeids"] + np.where(ints["nodes_trueleafs"] != 0, interior, 0)
    false_next = ints["nodes_falsenodeids"] + np.where(ints["nodes_falseleafs"] != 0, interior, 0)
    size = interior + leaves
    if not roots or any(not 0 <= r < interior for r in roots):
        raise n.error(f"tree_roots {roots} must index the {interior} nodes")
    if ((true_next < 0) | (true_next >= size) | (false_next < 0) | (false_next >= size)).any():
        raise n.error("a node's child is out of range")
    depth = _tree_depth(n, roots, true_next, false_next)
    itself = np.arange(interior, size, dtype=np.int64)
    true_table = np.concatenate([true_next, itself])
    false_table = np.concatenate([false_next, itself])
    np_dtype = np.dtype(n.scalar(0, x).dtype)

    def table(values: np.ndarray, fill: float | int, like: np.dtype) -> np.ndarray:
        return np.concatenate([values, np.full(leaves, fill)]).astype(like)

    feature_table = table(features_used, 0, np.dtype(np.int64))
    split_table = table(splits, 0, np_dtype)
    mode_table = table(modes, 0, np.dtype(np.int64))
    members = None
    if (modes == _MEMBER).any():
        values = np.asarray(n.attr("membership_values", []), np.float64).reshape(-1)
        sets = np.split(values, np.flatnonzero(np.isnan(values)) + 1)
        sets = [s[~np.isnan(s)] for s in sets if s.size]
        if len(sets) != int((modes == _MEMBER).sum()):
            raise n.error("membership_values must hold one NaN-ended set per BRANCH_MEMBER node")
        width = max(s.size for s in sets)
        members = np.full((size, max(width, 1)), np.nan)
        for k, s in zip(np.flatnonzero(modes == _MEMBER), sets, strict=True):
            members[k, : s.size] = s
        members = members.astype(np_dtype)

    state: Value = np.broadcast_to(np.array(roots, np.int64), (rows, len(roots))).copy()
    row_offsets = (np.arange(rows, dtype=np.int64) * features).reshape(rows, 1)
    flat_x = n.reshape(x, [rows * features])
    for _ in range(depth):
        feature = n.op("take", feature_table, state, axis=0)
        value = n.op("take", flat_x, n.op("add", feature, row_offsets), axis=0)
        split = n.op("take", split_table, state, axis=0)
        cond: Value | None = None
        for mode in sorted(set(modes.tolist())):
            if mode == _MEMBER:
                assert members is not None
                candidates = n.op("take", members, state, axis=0)  # (rows, trees, width)
                hit = n.op("equal", candidates, n.op("expand_dims", value, axis=2))
                this = n.op("max", n.cast(hit, "int8"), axis=[2], keepdims=False)
                this = n.cast(this, "bool")
            else:
                this = n.op(_BRANCHES[mode], value, split)
            if cond is None:
                cond = this
            else:
                is_mode = n.op(
                    "equal", n.op("take", mode_table, state, axis=0), np.array(mode, np.int64)
                )
                cond = n.op("where", is_mode, this, cond)
        assert cond is not None
        if missing.any():
            tracks = n.op("take", table(missing, 0, np.dtype(bool)), state, axis=0)
            nan = n.op("not_equal", value, value)
            cond = n.op("logical_or", cond, n.op("logical_and", nan, tracks))
        state = n.op(
            "where",
            cond,
            n.op("take", true_table, state, axis=0),
            n.op("take", false_table, state, axis=0),
        )
    leaf_weights = np.concatenate([np.zeros(interior), weights]).astype(np_dtype)
    leaf_weight = n.op("take", leaf_weights, state, axis=0)
    leaf_targets = np.concatenate([np.zeros(interior, np.int64), targets])
    leaf_target = n.op("take", leaf_targets, state, axis=0)
    onehot = n.op(
        "equal",
        n.op("expand_dims", leaf_target, axis=2),
        np.arange(n_targets, dtype=np.int64),
    )  # (rows, trees, targets)
    spread = n.op("expand_dims", leaf_weight, axis=2)
    if aggregate in (0, 1):
        total = n.op("sum", n.op("where", onehot, spread, n.scalar(0, x)), axis=[1])
        if aggregate == 0:
            total = n.op("divide", total, n.scalar(len(roots), x))
        return total
    # MIN, MAX: a target no leaf reaches is 0, as onnxruntime gives (ONNX's reference leaves
    # the dtype's largest or smallest value there)
    info = np.finfo(np_dtype)
    fill = info.max if aggregate == 2 else info.min
    picked = n.op("where", onehot, spread, n.scalar(fill, x))
    reduced = n.op("min" if aggregate == 2 else "max", picked, axis=[1])
    reached = n.cast(n.op("max", n.cast(onehot, "int8"), axis=[1]), "bool")
    return n.op("where", reached, reduced, n.scalar(0, x))
