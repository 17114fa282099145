"""ONNX's backend interface (`onnx.backend.base.Backend`) over relay-opt's compiler.

    from relay_opt.runtime.onnx_backend import RelayOptBackend
    rep = RelayOptBackend.prepare(model)          # import + compile (-O3)
    outputs = rep.run([x])                         # numpy in, numpy out

This is what `onnx.backend.test.BackendTest` drives (tests/test_onnx_backend.py).
Two kinds of model are compiled at the first `run` rather than in `prepare`,
specialized on what `run` is given (and again when that changes):
- graph inputs with symbolic dimensions: for the shapes of the given arrays
  (static shapes get the GEMM kernels and blocked layouts, and every operator
  converts; `?` dims compile natively only for the operators with a shape
  function, docs/native-dynamic-shapes.md);
- graph inputs that decide shapes (Reshape's shape, CumSum's axis, Resize's
  scales, ...): bound to the given values as constants.
An operator, attribute or dtype relay-opt does not implement makes `prepare`
raise `unittest.SkipTest` naming it, so the test suite reports it as skipped.
Narrow dtypes (float8, float4, int4, int2: frontends/onnx/narrow.py) are given and
returned as ml_dtypes arrays and carried in a wider dtype in between.
"""

from __future__ import annotations

import unittest
from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from relay_opt.diagnostics import ArgumentError, RelayError
from relay_opt.frontends.onnx.importer import (
    OnnxNeedsConstantError,
    OnnxUnsupportedError,
    import_onnx,
)
from relay_opt.frontends.onnx.narrow import narrowed, widen
from relay_opt.lowering.convert_relay_to_linalg import NO_NATIVE_STRINGS
from relay_opt.runtime.values import ADTValue, from_adt_list, to_adt_list


def _graph_inputs(model: Any) -> list[Any]:
    initializers = {i.name for i in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in initializers]


def _is_symbolic(vi: Any) -> bool:
    if vi.type.HasField("sequence_type"):  # its elements' rank, when not declared
        return not vi.type.sequence_type.elem_type.tensor_type.HasField("shape")
    if not vi.type.HasField("tensor_type"):
        return False
    tt = vi.type.tensor_type
    return not tt.HasField("shape") or any(not d.HasField("dim_value") for d in tt.shape.dim)


def _sources(model: Any, name: str) -> set[str]:
    """The graph inputs value `name` is computed from."""
    producers = {out: node for node in model.graph.node for out in node.output}
    inputs = {vi.name for vi in _graph_inputs(model)}
    found, todo, seen = set(), [name], set()
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in inputs:
            found.add(v)
        elif v in producers:
            todo.extend(i for i in producers[v].input if i)
    return found


class RelayOptRep(BackendRep):
    def __init__(self, model: Any, opt: int):
        self.model = model
        self.opt = opt
        self.inputs = _graph_inputs(model)
        self.frozen: set[str] = set()
        """Graph inputs bound as constants at run time."""
        self._compiled: dict[Any, Any] = {}
        self.output_narrow: list[int | None] = []
        """Per output: its narrow dtype's ONNX code (the import's), or None."""
        if not any(_is_symbolic(vi) for vi in self.inputs):
            try:
                self._compiled[None] = self._compile(None, {})
            except OnnxNeedsConstantError as e:
                self._freeze(e)

    def _freeze(self, e: OnnxNeedsConstantError) -> None:
        more = _sources(self.model, e.value_name) - self.frozen
        if not more:
            raise unittest.SkipTest(f"unsupported: {e}") from None
        self.frozen |= more

    def _compile(
        self, shapes: dict[str, Sequence[int]] | None, constants: dict[str, np.ndarray]
    ) -> Any:
        from relay_opt.runtime.jit import compile

        try:
            imported = import_onnx(self.model, shapes, constants=constants)
        except OnnxNeedsConstantError:
            raise
        except OnnxUnsupportedError as e:
            raise unittest.SkipTest(f"unsupported: {e}") from None
        self.output_narrow = imported.output_narrow
        try:
            return compile(imported.module, opt=self.opt)
        except RelayError as e:
            if NO_NATIVE_STRINGS in e.message:  # a string operator native code lacks
                raise unittest.SkipTest(f"unsupported: {e.message}") from None
            raise

    def _specialized(self, arrays: dict[str, Any]) -> Any:
        """The executable for these shapes and frozen values (compiled on first use)."""
        while True:
            constants = {n: arrays[n] for n in self.frozen}
            shapes: dict[str, Sequence[int]] = {}
            for n, a in arrays.items():
                shape = _shape(a)
                if n not in self.frozen and shape is not None:
                    shapes[n] = shape
            key = (
                tuple(sorted(shapes.items())),
                tuple((n, a.dtype.str, a.shape, a.tobytes()) for n, a in sorted(constants.items())),
            )
            if key in self._compiled:
                return self._compiled[key]
            try:
                self._compiled[key] = self._compile(shapes, constants)
                return self._compiled[key]
            except OnnxNeedsConstantError as e:
                self._freeze(e)

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:  # noqa: ARG002
        names = [vi.name for vi in self.inputs]
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ArgumentError(
                    f"missing input(s) {', '.join(missing)}; the model takes {', '.join(names)}"
                )
            given = [inputs[n] for n in names]
        else:
            given = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            if len(given) != len(names):
                raise ArgumentError(
                    f"the model takes {len(names)} input(s) ({', '.join(names)}), got {len(given)}"
                )
        types = {vi.name: vi.type for vi in self.inputs}
        arrays = {n: _value_in(a, types[n]) for n, a in zip(names, given, strict=True)}
        exe = self._compiled.get(None) or self._specialized(arrays)
        result = exe(*[arrays[n] for n in names if n not in self.frozen])
        results = result if isinstance(result, tuple) else (result,)
        return tuple(
            _value_out(r) if code is None else narrowed(r, code)
            for r, code in zip(results, self.output_narrow, strict=False)
        )


def _shape(value: Any) -> Sequence[int] | None:  # noqa: ANN401
    """What specializes on a value: an array's shape, a sequence's first element's (whose
    length is the elements' rank)."""
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, ADTValue) and value.constructor == "List::Cons":
        return np.shape(value.fields[0])
    return None


def _value_in(value: Any, proto: Any) -> Any:  # noqa: ANN401
    """A value given to `run` in the Python API's form: a sequence (a Python list of arrays)
    as the prelude's `List`, an optional (None or a value) as its `Option`."""
    kind = proto.WhichOneof("value")
    if kind == "sequence_type":
        return to_adt_list([_value_in(v, proto.sequence_type.elem_type) for v in value])
    if kind == "optional_type":
        if value is None:
            return ADTValue("Option::None", 1, ())
        return ADTValue("Option::Some", 0, (_value_in(value, proto.optional_type.elem_type),))
    return widen(np.asarray(value))


def _value_out(value: Any) -> Any:  # noqa: ANN401
    """A result as ONNX gives it: a `List` as a Python list, an `Option` as None or its
    value, a rank-erased tensor (a sequence's element: its data flattened, its shape) in its
    shape."""
    if isinstance(value, tuple):  # (ONNX has no tuples: only rank-erased tensors are)
        data, shape = value
        return np.asarray(data).reshape(tuple(int(d) for d in shape))
    if not isinstance(value, ADTValue):
        return value
    if value.constructor == "Option::None":
        return None
    if value.constructor == "Option::Some":
        return _value_out(value.fields[0])
    items = from_adt_list(value)
    if items is None:
        return value
    return [_value_out(v) for v in items]


class RelayOptBackend(Backend):
    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> RelayOptRep:
        super().prepare(model, device, **kwargs)
        return RelayOptRep(model, int(kwargs.get("opt", 3)))

    @classmethod
    def run_model(
        cls, model: Any, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = RelayOptBackend.prepare
run_model = RelayOptBackend.run_model
supports_device = RelayOptBackend.supports_device
