"""The string objects a module's code writes out, as one constant global (strings.py)."""

from __future__ import annotations

import struct

from xdsl.dialects import llvm
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType, f64, i1, i32, i64
from xdsl.ir import Operation

from relay_opt.dialects.relay.regex import DFA
from relay_opt.lowering.convert_relay_to_linalg.objects import OBJECT

POOL = "relay_opt_strings"
MEMCMP = "memcmp"
MEMCPY = "llvm.memcpy.p0.p0.i64"
STRTOD = "strtod"
SNPRINTF = "snprintf"
HEADER = 8
"""Bytes before a string's text: its length, an i64."""


class StringPool:
    """The texts a module's code refers to, laid out as string objects in one global."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self.offsets: dict[str, int] = {}
        self.used = False
        self.tables: dict[str, tuple[str, list[int]]] = {}
        """Regex patterns -> their DFA's global and its words (regex_table)."""

    def offset(self, text: str) -> int:
        """The byte offset of `text`'s object in the pool (each text once)."""
        if text not in self.offsets:
            data = text.encode("utf-8")
            padded = data + b"\0" * (-len(data) % 8)
            self.offsets[text] = 8 * len(self.words)
            self.words.append(len(data))
            self.words += [w for (w,) in struct.iter_unpack("<q", padded)]
        return self.offsets[text]

    def regex_table(self, pattern: str, dfa: DFA) -> tuple[str, int]:
        """The global holding `dfa` (once per pattern) and its row count: rows of 256 i32
        next states, then one i32 per row, 1 where the row accepts. A last row is the dead
        state (-1 in the interpreter's table), which leads to itself and never accepts."""
        dead = len(dfa.table)
        if pattern not in self.tables:
            words = [dead if t < 0 else t for row in dfa.table for t in row] + [dead] * 256
            words += [int(s in dfa.accepting) for s in range(dead)] + [0]
            self.tables[pattern] = (f"{POOL}_dfa{len(self.tables)}", words)
        return self.tables[pattern][0], dead + 1

    def finish(self) -> list[Operation]:
        """The pool's global and the functions the string code calls, if any was lowered."""
        if not self.used:
            return []
        words = self.words
        value = DenseIntOrFPElementsAttr.from_list(TensorType(i64, [len(words)]), words)
        pool = [
            llvm.GlobalOp(
                llvm.LLVMArrayType(len(words), i64),
                POOL,
                "internal",
                constant=True,
                value=value,
                alignment=8,
            )
        ]
        tables = [
            llvm.GlobalOp(
                llvm.LLVMArrayType(len(words), i32),
                name,
                "internal",
                constant=True,
                value=DenseIntOrFPElementsAttr.from_list(TensorType(i32, [len(words)]), words),
                alignment=64,
            )
            for name, words in self.tables.values()
        ]
        external = llvm.LinkageAttr("external")
        return [
            *(pool if words else []),
            *tables,
            llvm.FuncOp(MEMCMP, llvm.LLVMFunctionType([OBJECT, OBJECT, i64], i32), external),
            llvm.FuncOp(MEMCPY, llvm.LLVMFunctionType([OBJECT, OBJECT, i64, i1]), external),
            llvm.FuncOp(STRTOD, llvm.LLVMFunctionType([OBJECT, OBJECT], f64), external),
            llvm.FuncOp(
                SNPRINTF,
                llvm.LLVMFunctionType([OBJECT, i64, OBJECT], i32, is_variadic=True),
                external,
            ),
        ]
