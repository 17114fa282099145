"""A subset of RE2's syntax compiled to a byte-level DFA, for RegexFullMatch (docs/strings.md).

The subset: literals (UTF-8), `.` (one character, not a newline), classes `[a-z_]`,
`[^...]` (ASCII members), `\\d \\w \\s` and their negations (ASCII, as RE2's), escaped
punctuation, `\\n \\t \\r \\f \\v \\xHH`, groups `(...)`, `(?:...)`, `(?P<name>...)`,
alternation `|`, the repetitions `* + ? {m} {m,} {m,n}` (greedy or lazy: a full match does
not care), and the assertions `^ $ \\A \\z` (text start and end) and `\\b \\B` (an ASCII
word boundary, or none). Anything else is a `RegexError` naming the construct and its offset.

The DFA reads the UTF-8 bytes of a string: `table[state][byte]` is the next state (-1:
no match is possible any more); the string matches when the state after its last byte is
accepting. Assertions are conditional empty moves of the NFA, taken when the DFA knows the
condition: a DFA state is a set of NFA states plus "at the start" and "the last byte was a
word character", and a move on byte b first takes the assertions that hold before b. The
interpreter runs the table in Python (native code would run the same table as a loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

MAX_STATES = 4096
"""DFA states a pattern may need (a^{1000} or many nested counts would need more)."""
MAX_REPEAT = 1000
"""RE2's bound on a count in `{m,n}`."""

_ANY_ASCII = frozenset(range(128))
_DIGIT = frozenset(range(ord("0"), ord("9") + 1))
_WORD = _DIGIT | frozenset(range(ord("a"), ord("z") + 1)) | frozenset(range(65, 91)) | {95}
_SPACE = frozenset(b"\t\n\f\r ")
_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "f": 12, "v": 11}
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}


class RegexError(ValueError):
    """A pattern outside the subset, or a malformed one: the message names the construct."""


# -- NFA --------------------------------------------------------------------------------------


class _NFA:
    def __init__(self) -> None:
        self.moves: list[list[tuple[frozenset[int], int]]] = []
        self.eps: list[list[int]] = []
        self.asserts: list[list[tuple[str, int]]] = []
        """Empty moves taken only when their assertion (`^ $ b B`) holds."""

    def state(self) -> int:
        self.moves.append([])
        self.eps.append([])
        self.asserts.append([])
        return len(self.moves) - 1


Fragment = tuple[int, int]
"""(entry state, exit state) of a piece of the NFA."""


@dataclass
class _Node:
    """The parsed pattern: kind `bytes` (one byte set), `seq`, `alt`, `repeat`, `char` or
    `assert` (its condition in `cond`)."""

    kind: str
    parts: list[_Node]
    byteset: frozenset[int] = frozenset()
    low: int = 0
    high: int | None = 0
    cond: str = ""
    negated_ascii: frozenset[int] | None = None
    """kind `char`: a character outside these ASCII bytes, non-ASCII characters included."""


def _utf8_any(nfa: _NFA, start: int, end: int) -> None:
    """Moves from start to end over one multi-byte UTF-8 character."""
    cont = frozenset(range(0x80, 0xC0))
    for lead, n in ((range(0xC2, 0xE0), 1), (range(0xE0, 0xF0), 2), (range(0xF0, 0xF5), 3)):
        at = nfa.state()
        nfa.moves[start].append((frozenset(lead), at))
        for k in range(n):
            nxt = end if k == n - 1 else nfa.state()
            nfa.moves[at].append((cont, nxt))
            at = nxt


class _Parser:
    def __init__(self, pattern: str):
        self.p = pattern
        self.i = 0

    def error(self, what: str, at: int | None = None) -> RegexError:
        return RegexError(f"{what} at offset {self.i if at is None else at}")

    def peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    def parse(self) -> _Node:
        node = self.alternation()
        if self.peek() is not None:
            raise self.error("unbalanced ')'")
        return node

    def alternation(self) -> _Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else _Node("alt", branches)

    def sequence(self) -> _Node:
        parts: list[_Node] = []
        while (c := self.peek()) is not None and c not in "|)":
            parts.append(self.repetition(self.atom()))
        return _Node("seq", parts)

    def repetition(self, node: _Node) -> _Node:
        while (c := self.peek()) is not None and c in "*+?{":
            start = self.i
            self.i += 1
            if c == "{":
                low, high = self.counts(start)
            else:
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            if self.peek() == "?":  # lazy: the same set of full matches
                self.i += 1
            elif self.peek() == "+":
                raise self.error("possessive repetition is not supported")
            node = _Node("repeat", [node], low=low, high=high)
        return node

    def counts(self, start: int) -> tuple[int, int | None]:
        end = self.p.find("}", self.i)
        body = self.p[self.i : end] if end >= 0 else ""
        low_text, comma, high_text = body.partition(",")
        if end < 0 or not low_text.isdigit() or (high_text and not high_text.isdigit()):
            raise self.error("a malformed repetition count", start)
        low = int(low_text)
        high = (int(high_text) if high_text else None) if comma else low
        if max(low, high or 0) > MAX_REPEAT or (high is not None and high < low):
            raise self.error(f"a repetition count outside 0..{MAX_REPEAT} or reversed", start)
        self.i = end + 1
        return low, high

    def atom(self) -> _Node:
        c = self.p[self.i]
        start = self.i
        self.i += 1
        if c == "(":
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i):
                close = self.p.find(">", self.i)
                if close < 0:
                    raise self.error("an unterminated group name", start)
                self.i = close + 1
            elif self.peek() == "?":
                raise self.error("group flags and lookaround '(?' are not supported", start)
            node = self.alternation()
            if self.peek() != ")":
                raise self.error("missing ')'", start)
            self.i += 1
            return node
        if c in "*+?{":
            raise self.error(f"repetition '{c}' of nothing", start)
        if c in "^$":
            return _Node("assert", [], cond=c)
        if c == ".":
            return _Node("char", [], negated_ascii=frozenset({10}))
        if c == "[":
            return self.char_class(start)
        if c == "\\":
            return self.escape(start, in_class=False)
        return _literal(c)

    def escape(self, start: int, *, in_class: bool) -> _Node:
        c = self.peek()
        if c is None:
            raise self.error("a trailing '\\'", start)
        self.i += 1
        if c in _CLASS_ESCAPES:
            return _Node("bytes", [], byteset=_CLASS_ESCAPES[c])
        if c.lower() in _CLASS_ESCAPES:
            return _Node("char", [], negated_ascii=_CLASS_ESCAPES[c.lower()])
        if c in "bBAz" and not in_class:
            return _Node("assert", [], cond={"A": "^", "z": "$"}.get(c, c))
        if c in _SIMPLE_ESCAPES:
            return _Node("bytes", [], byteset=frozenset({_SIMPLE_ESCAPES[c]}))
        if c == "x":
            digits = self.p[self.i : self.i + 2]
            if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise self.error("'\\x' needs two hex digits", start)
            self.i += 2
            return _literal(chr(int(digits, 16)))
        if not c.isalnum() and c.isascii():
            return _literal(c)
        raise self.error(f"the escape '\\{c}' is not supported", start)

    def char_class(self, start: int) -> _Node:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        members: set[int] = set()
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise self.error("missing ']'", start)
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[" and self.p.startswith("[:", self.i):
                raise self.error("POSIX classes '[:name:]' are not supported")
            lo = self.class_member(start)
            if isinstance(lo, frozenset):
                members |= lo
                continue
            if self.peek() == "-" and self.p[self.i + 1 : self.i + 2] not in ("]", ""):
                self.i += 1
                hi = self.class_member(start)
                if isinstance(hi, frozenset) or hi < lo:
                    raise self.error("a malformed class range", start)
                members |= set(range(lo, hi + 1))
            else:
                members.add(lo)
        byteset = frozenset(members)
        if negated:
            return _Node("char", [], negated_ascii=byteset)
        return _Node("bytes", [], byteset=byteset)

    def class_member(self, start: int) -> int | frozenset[int]:
        c = self.p[self.i]
        at = self.i
        self.i += 1
        if c == "\\":
            node = self.escape(start, in_class=True)
            if node.kind == "char":
                raise self.error("a negated escape inside a class is not supported", at)
            if node.kind == "bytes" and len(node.byteset) > 1:
                return node.byteset
            return next(iter(node.byteset)) if node.kind == "bytes" else _only_byte(node, self, at)
        if not c.isascii():
            raise self.error(f"the non-ASCII character {c!r} in a class is not supported", at)
        return ord(c)


def _only_byte(node: _Node, parser: _Parser, at: int) -> int:
    if node.kind == "seq" and len(node.parts) == 1 and len(node.parts[0].byteset) == 1:
        return next(iter(node.parts[0].byteset))
    raise parser.error("a non-ASCII character in a class is not supported", at)


def _literal(c: str) -> _Node:
    return _Node("seq", [_Node("bytes", [], byteset=frozenset({b})) for b in c.encode()])


def _build(nfa: _NFA, node: _Node) -> Fragment:
    start, end = nfa.state(), nfa.state()
    if node.kind == "bytes":
        nfa.moves[start].append((node.byteset, end))
    elif node.kind == "assert":
        nfa.asserts[start].append((node.cond, end))
    elif node.kind == "char":
        assert node.negated_ascii is not None
        nfa.moves[start].append((_ANY_ASCII - node.negated_ascii, end))
        _utf8_any(nfa, start, end)
    elif node.kind == "seq":
        at = start
        for part in node.parts:
            s, e = _build(nfa, part)
            nfa.eps[at].append(s)
            at = e
        nfa.eps[at].append(end)
    elif node.kind == "alt":
        for part in node.parts:
            s, e = _build(nfa, part)
            nfa.eps[start].append(s)
            nfa.eps[e].append(end)
    else:  # repeat: `low` copies, then (high - low) optional ones or a loop
        at = start
        for _ in range(node.low):
            s, e = _build(nfa, node.parts[0])
            nfa.eps[at].append(s)
            at = e
        if node.high is None:
            s, e = _build(nfa, node.parts[0])
            nfa.eps[at] += [s, end]
            nfa.eps[e] += [s, end]
        else:
            for _ in range(node.high - node.low):
                s, e = _build(nfa, node.parts[0])
                nfa.eps[at] += [s, end]
                at = e
            nfa.eps[at].append(end)
    return start, end


# -- DFA --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DFA:
    table: tuple[tuple[int, ...], ...]
    """table[state][byte]: the next state, -1 for none. State 0 is the start."""
    accepting: frozenset[int]

    def full_match(self, text: str) -> bool:
        state = 0
        for b in text.encode():
            state = self.table[state][b]
            if state < 0:
                return False
        return state in self.accepting


_Key = tuple[frozenset[int], bool, bool]
"""A DFA state: NFA states, at the start, the last byte a word character's."""


def _holds(cond: str, at_start: bool, at_end: bool, before: bool, after: bool) -> bool:
    """Whether an assertion holds between a byte that is a word character or not (`before`;
    False at the start) and the next (`after`; False at the end)."""
    if cond == "^":
        return at_start
    if cond == "$":
        return at_end
    return (before != after) == (cond == "b")


@lru_cache(maxsize=256)
def compile_dfa(pattern: str) -> DFA:
    """The DFA of `pattern` (subset construction over the Thompson NFA); RegexError when the
    pattern is outside the subset or needs more than MAX_STATES states."""
    nfa = _NFA()
    start, accept = _build(nfa, _Parser(pattern).parse())

    def closure(
        states: set[int] | frozenset[int], context: tuple[bool, ...] | None
    ) -> frozenset[int]:
        """The states reachable by empty moves; assertions only in `context` (at_start, at_end,
        before, after), none when it is None."""
        todo, seen = list(states), set(states)
        while todo:
            s = todo.pop()
            nxt = list(nfa.eps[s])
            if context is not None:
                nxt += [t for cond, t in nfa.asserts[s] if _holds(cond, *context)]
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(seen)

    first: _Key = (closure({start}, None), True, False)
    index: dict[_Key, int] = {first: 0}
    order: list[_Key] = [first]
    table: list[tuple[int, ...]] = []
    accepting: set[int] = set()
    closed: dict[frozenset[int], frozenset[int]] = {}
    for number, (states, at_start, before) in enumerate(order):  # grows while it is walked
        if accept in closure(states, (at_start, True, before, False)):
            accepting.add(number)
        # the states ready to read a byte: the assertions before a word byte, or another
        moved: list[set[int]] = [set() for _ in range(256)]
        for word in (False, True):
            for s in closure(states, (at_start, False, before, word)):
                for byteset, t in nfa.moves[s]:
                    for b in byteset:
                        if (b in _WORD) == word:
                            moved[b].add(t)
        row: list[int] = []
        for b in range(256):
            if not moved[b]:
                row.append(-1)
                continue
            raw = frozenset(moved[b])
            if raw not in closed:
                closed[raw] = closure(raw, None)
            key: _Key = (closed[raw], False, b in _WORD)
            if key not in index:
                if len(order) >= MAX_STATES:
                    raise RegexError(f"the pattern needs more than {MAX_STATES} DFA states")
                index[key] = len(order)
                order.append(key)
            row.append(index[key])
        table.append(tuple(row))
    return DFA(tuple(table), frozenset(accepting))
