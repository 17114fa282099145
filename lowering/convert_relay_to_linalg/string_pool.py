"""The string objects a module's code writes out, as one constant global (strings.py)."""

from __future__ import annotations

import struct

from xdsl.dialects import llvm
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType, i1, i32, i64
from xdsl.ir import Operation

from relay_opt.lowering.convert_relay_to_linalg.objects import OBJECT

POOL = "relay_opt_strings"
MEMCMP = "memcmp"
MEMCPY = "llvm.memcpy.p0.p0.i64"
HEADER = 8
"""Bytes before a string's text: its length, an i64."""


class StringPool:
    """The texts a module's code refers to, laid out as string objects in one global."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self.offsets: dict[str, int] = {}
        self.used = False

    def offset(self, text: str) -> int:
        """The byte offset of `text`'s object in the pool (each text once)."""
        if text not in self.offsets:
            data = text.encode("utf-8")
            padded = data + b"\0" * (-len(data) % 8)
            self.offsets[text] = 8 * len(self.words)
            self.words.append(len(data))
            self.words += [w for (w,) in struct.iter_unpack("<q", padded)]
        return self.offsets[text]

    def finish(self) -> list[Operation]:
        """The pool's global and the functions the string code calls, if any was lowered."""
        if not self.used:
            return []
        words = self.words or [0]
        value = DenseIntOrFPElementsAttr.from_list(TensorType(i64, [len(words)]), words)
        pool = llvm.GlobalOp(
            llvm.LLVMArrayType(len(words), i64),
            POOL,
            "internal",
            constant=True,
            value=value,
            alignment=8,
        )
        external = llvm.LinkageAttr("external")
        return [
            pool,
            llvm.FuncOp(MEMCMP, llvm.LLVMFunctionType([OBJECT, OBJECT, i64], i32), external),
            llvm.FuncOp(MEMCPY, llvm.LLVMFunctionType([OBJECT, OBJECT, i64, i1]), external),
        ]
