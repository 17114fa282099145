"""Tokens of TVM's Relay text format 0.0.5.

Differences from TVM's tokenizer, chosen on purpose:
- `-` right before a digit is a negative literal only where an operand may
  start, so `%n-1` is a subtraction (TVM reads `%n` then `-1` and fails);
- `=>` may be written `= >` is *not* accepted (neither does TVM), but spacing
  around every other token is free.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum, auto

import numpy as np

from relay_opt.diagnostics import RelayError, SourceLoc


class Tok(Enum):
    LOCAL = auto()  # %x
    GRAPH = auto()  # %0
    GLOBAL = auto()  # @f
    IDENT = auto()  # add, nn, Tensor, float32, List, A, _
    INT = auto()
    FLOAT = auto()
    STRING = auto()
    PUNCT = auto()  # ( ) [ ] { } , . ; : = ? ! < > + - * / -> => == != <= >=
    KEYWORD = auto()
    HASH_ATTR = auto()  # the text between `#[` and `]`
    METADATA = auto()  # everything after `#[metadata]`
    EOF = auto()


KEYWORDS = frozenset(
    [
        "let",
        "fn",
        "def",
        "if",
        "else",
        "type",
        "match",
        "match?",
        "extern",
        "free_var",
        "ref",
        "ref_read",
        "ref_write",
    ]
)
_TWO_CHAR = ("->", "=>", "==", "!=", "<=", ">=")
_ONE_CHAR = "()[]{},.;:=?!<>+-*/"
# After these a `-` is binary minus; elsewhere `-1` is a literal.
_OPERAND_END = {Tok.LOCAL, Tok.GRAPH, Tok.GLOBAL, Tok.IDENT, Tok.INT, Tok.FLOAT, Tok.STRING}


@dataclass(frozen=True)
class Token:
    kind: Tok
    text: str
    loc: SourceLoc
    value: object = None  # INT: (int, dtype); FLOAT: (float, dtype); STRING: str

    def is_punct(self, p: str) -> bool:
        return self.kind is Tok.PUNCT and self.text == p

    def is_keyword(self, k: str) -> bool:
        return self.kind is Tok.KEYWORD and self.text == k


# Runs of one character class, matched at once (the lexer's time is per character otherwise).
_SPACE = re.compile(r"[ \t\n]*")
_IDENT_CHARS = re.compile(r"[^\W_]*(?:[_/][^\W_]*)*")  # what _ident_char accepts
_DIGITS = re.compile(r"[0-9]*")
_ALNUM = re.compile(r"[^\W_]*")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"  # ASCII only: str.isdigit() also takes '²', which int() refuses


def _ident_start(c: str) -> bool:
    return c.isalpha() or c in "_/"


def _ident_char(c: str) -> bool:
    return c.isalnum() or c in "_/"


_INT_RANGES = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_FLOAT_DTYPES = {"f": "float32", "f16": "float16", "f32": "float32", "f64": "float64"}
_INT_SUFFIXES = {"i": "int32", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}


class Lexer:
    def __init__(self, text: str, filename: str, line_offset: int = 0):
        self.text = text
        self.file = filename
        self.pos = 0
        self.line = 1 + line_offset
        self.line_start = 0
        self.tokens: list[Token] = []

    def loc(self, pos: int | None = None) -> SourceLoc:
        if pos is None or pos >= self.line_start:
            pos = self.pos if pos is None else pos
            return SourceLoc(self.file, self.line, pos - self.line_start + 1)
        # An earlier line (an error reported at the start of a long token).
        line = self.line - self.text.count("\n", pos, self.line_start)
        start = self.text.rfind("\n", 0, pos) + 1
        return SourceLoc(self.file, line, pos - start + 1)

    def error(self, message: str, pos: int | None = None) -> RelayError:
        return RelayError(message, self.loc(pos))

    def _advance(self, n: int) -> None:
        end = self.pos + n
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, end) + 1
        self.pos = end

    def _skip_space_and_comments(self) -> None:
        t = self.text
        while self.pos < len(t):
            c = t[self.pos]
            if c in " \t\n":
                self._advance(_SPACE.match(t, self.pos).end() - self.pos)  # pyright: ignore[reportOptionalMemberAccess]
            elif c == "\r":
                if not t.startswith("\r\n", self.pos):
                    raise self.error("a carriage return must be followed by a newline")
                self._advance(1)
            elif t.startswith("//", self.pos):
                end = t.find("\n", self.pos)
                self._advance((len(t) if end < 0 else end) - self.pos)
            elif t.startswith("/*", self.pos):
                start, depth = self.pos, 0
                while True:
                    if self.pos >= len(t):
                        raise self.error("unterminated block comment", start)
                    if t.startswith("/*", self.pos):
                        depth += 1
                        self._advance(2)
                    elif t.startswith("*/", self.pos):
                        depth -= 1
                        self._advance(2)
                        if depth == 0:
                            break
                    else:
                        self._advance(1)
            else:
                return

    def tokenize(self) -> list[Token]:
        while True:
            self._skip_space_and_comments()
            if self.pos >= len(self.text):
                self.tokens.append(Token(Tok.EOF, "", self.loc()))
                return self.tokens
            self.tokens.append(self._token())
            if self.tokens[-1].kind is Tok.METADATA:
                self.tokens.append(Token(Tok.EOF, "", self.loc()))
                return self.tokens

    def _token(self) -> Token:
        t, start, loc = self.text, self.pos, self.loc()
        c = t[start]
        prev = self.tokens[-1].kind if self.tokens else None
        prev_closes = bool(self.tokens) and self.tokens[-1].text in (")", "]", "}")
        if c in "%@":
            self._advance(1)
            name_start = self.pos
            self._advance(_IDENT_CHARS.match(t, self.pos).end() - self.pos)  # pyright: ignore[reportOptionalMemberAccess]
            name = t[name_start : self.pos]
            if not name:
                raise self.error(f"expected a name after '{c}'", start)
            if c == "@":
                return Token(Tok.GLOBAL, name, loc)
            return Token(Tok.GRAPH if name.isdigit() else Tok.LOCAL, name, loc)
        if t.startswith("#[", start):
            end = t.find("]", start)
            if end < 0:
                raise self.error("unterminated '#[' attribute", start)
            body = t[start + 2 : end].strip()
            self._advance(end + 1 - start)
            if body == "metadata":
                rest = t[self.pos :]
                self._advance(len(t) - self.pos)
                return Token(Tok.METADATA, rest, loc)
            return Token(Tok.HASH_ATTR, body, loc)
        if c == '"':
            end = t.find('"', start + 1)
            if end < 0:
                raise self.error("unterminated string literal", start)
            self._advance(end + 1 - start)
            return Token(Tok.STRING, t[start : end + 1], loc, t[start + 1 : end])
        negative_ok = prev not in _OPERAND_END and not prev_closes
        if _is_digit(c) or (c == "-" and negative_ok and self._minus_starts_number(start)):
            return self._number(loc)
        if _ident_start(c):
            self._advance(_IDENT_CHARS.match(t, self.pos).end() - self.pos)  # pyright: ignore[reportOptionalMemberAccess]
            word = t[start : self.pos]
            if word == "match" and self.pos < len(t) and t[self.pos] == "?":
                self._advance(1)
                return Token(Tok.KEYWORD, "match?", loc)
            if word == "inff":
                return Token(Tok.FLOAT, word, loc, (math.inf, "float32"))
            return Token(Tok.KEYWORD if word in KEYWORDS else Tok.IDENT, word, loc)
        if (two := t[start : start + 2]) in _TWO_CHAR:
            self._advance(2)
            return Token(Tok.PUNCT, two, loc)
        if c in _ONE_CHAR:
            self._advance(1)
            return Token(Tok.PUNCT, c, loc)
        raise self.error(f"unexpected character '{c}'", start)

    def _minus_starts_number(self, pos: int) -> bool:
        while pos < len(self.text) and self.text[pos] == "-":
            pos += 1
        return pos < len(self.text) and (
            _is_digit(self.text[pos]) or self.text.startswith("inff", pos)
        )

    def _number(self, loc: SourceLoc) -> Token:
        t, start = self.text, self.pos
        negatives = 0
        while t[self.pos] == "-":
            negatives += 1
            self._advance(1)
        sign = -1 if negatives % 2 else 1
        if t.startswith("inff", self.pos):
            self._advance(4)
            return Token(Tok.FLOAT, t[start : self.pos], loc, (sign * math.inf, "float32"))
        digits_start = self.pos
        self._advance(_DIGITS.match(t, self.pos).end() - self.pos)  # pyright: ignore[reportOptionalMemberAccess]
        is_float = False
        if (
            self.pos < len(t)
            and t[self.pos] == "."
            and self.pos + 1 < len(t)
            and _is_digit(t[self.pos + 1])
        ):
            is_float = True
            self._advance(1)
            while self.pos < len(t) and _is_digit(t[self.pos]):
                self._advance(1)
        if self.pos < len(t) and t[self.pos] in "eE":
            j = self.pos + 1
            if j < len(t) and t[j] in "+-":
                j += 1
            if j < len(t) and _is_digit(t[j]):
                is_float = True
                self._advance(j - self.pos)
                while self.pos < len(t) and _is_digit(t[self.pos]):
                    self._advance(1)
        number = t[digits_start : self.pos]
        suffix_start = self.pos
        self._advance(_ALNUM.match(t, self.pos).end() - self.pos)  # pyright: ignore[reportOptionalMemberAccess]
        suffix = t[suffix_start : self.pos]
        text = t[start : self.pos]
        if suffix in _FLOAT_DTYPES:
            dtype = _FLOAT_DTYPES[suffix]
            value = sign * float(number)
            limit = float(np.finfo(np.dtype(dtype)).max)
            if math.isfinite(value) and abs(value) > limit:
                raise self.error(f"{text} is out of range for {dtype}", start)
            return Token(Tok.FLOAT, text, loc, (value, dtype))
        if is_float:
            raise self.error(
                f"a float literal needs a suffix: write {number}f (float32), "
                f"{number}f16 or {number}f64",
                start,
            )
        if suffix and suffix not in _INT_SUFFIXES:
            raise self.error(f"unknown literal suffix '{suffix}'", suffix_start)
        value = sign * int(number)
        dtype = _INT_SUFFIXES.get(suffix, "int32")
        bits = _INT_RANGES[dtype]
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            if suffix:
                raise self.error(f"{text} is out of range for {dtype}", start)
            dtype = "int64"  # an unsuffixed literal too big for int32 widens, as in TVM
            if not -(2**63) <= value < 2**63:
                raise self.error(f"{text} is out of range for int64", start)
        return Token(Tok.INT, text, loc, (value, dtype))
