"""Recursive-descent parser for Relay text 0.0.5: tokens -> syntax tree (syntax.py).

The grammar is the one TVM's Relay parser accepts. Where that parser has a
quirk we chose to fix, the fix is noted next to the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from relay_opt.diagnostics import RelayError, SourceLoc
from relay_opt.dialects.relay.types import MAX_DIM, MAX_ELEMENTS
from relay_opt.frontends.relay_text import syntax as s
from relay_opt.frontends.relay_text.lexer import Lexer, Tok, Token

# Binary operators: precedence (higher binds tighter) and the operator they call.
BINARY_OPS: dict[str, tuple[int, str]] = {
    "*": (12, "multiply"),
    "/": (12, "divide"),
    "+": (10, "add"),
    "-": (10, "subtract"),
    "<": (8, "less"),
    "<=": (8, "less_equal"),
    ">": (8, "greater"),
    ">=": (8, "greater_equal"),
    "==": (7, "equal"),
    "!=": (7, "not_equal"),
}

_T = TypeVar("_T")

_OPENER = {")": "(", "]": "[", "}": "{"}
_CLOSER = {v: k for k, v in _OPENER.items()}

_SCALAR_PREFIXES = {"int": "int32", "uint": "uint32", "float": "float32", "bool": "bool"}


def scalar_dtype(name: str) -> str | None:
    """A dtype name in type position (`float32`, `int`, `bool`), or None."""
    from relay_opt.dialects.relay.types import DTYPES, STRING

    if name in DTYPES or name == STRING:
        return name
    return _SCALAR_PREFIXES.get(name)


def _looks_like_dtype(name: str) -> bool:
    return any(name.startswith(p) for p in ("int", "uint", "float", "bool", "bfloat"))


# How deep expressions, types and patterns may nest (parentheses, calls, blocks, function
# bodies, branches, tuple and function types). Deeper text is refused with a located error
# instead of exhausting Python's stack here or in the passes that walk the result
# (nested functions and branches become nested regions). Python's own tokenizer allows
# 200 nested parentheses; a program nested this deep is generated and can bind its inner
# parts with `let` or graph bindings, which nest nothing.
MAX_NESTING = 100


class Parser:
    def __init__(self, text: str, filename: str, line_offset: int = 0):
        self.tokens = Lexer(text, filename, line_offset).tokenize()
        self.i = 0
        self.depth = 0
        self.names: set[str] = set()  # referred to: '@f', constructors, types (for the prelude)

    @contextmanager
    def nested(self, what: str) -> Iterator[None]:
        """One level deeper in `what` (an expression, a type, a pattern), within MAX_NESTING."""
        if self.depth >= MAX_NESTING:
            prev = self.tokens[self.i - 1] if self.i else self.tok
            at = prev if prev.kind is Tok.PUNCT and prev.text in _CLOSER else self.tok
            raise self.error(
                f"{what} nested more than {MAX_NESTING} deep (relay-opt's limit); "
                f"bind inner parts with let or graph bindings (%0 = ...)",
                at,
            )
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    # -- token helpers -------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> Token:
        t = self.tokens[self.i]
        if t.kind is not Tok.EOF:
            self.i += 1
        return t

    def error(self, message: str, tok: Token | None = None) -> RelayError:
        return RelayError(message, (tok or self.tok).loc)

    def found(self) -> str:
        t = self.tok
        return "end of input" if t.kind is Tok.EOF else f"'{t.text}'"

    def accept(self, p: str) -> Token | None:
        if self.tok.is_punct(p) or self.tok.is_keyword(p):
            return self.next()
        return None

    def expect(self, p: str, context: str = "", closes: str | None = None) -> Token:
        """The token `p`, else an error; when `p` (or `closes`) is a closing bracket, the
        error has a note at the bracket it would close."""
        if (t := self.accept(p)) is None:
            where = f" {context}" if context else ""
            raise self.unclosed(f"expected '{p}'{where}, found {self.found()}", closes or p)
        return t

    def unclosed(self, message: str, closes: str) -> RelayError:
        """An error here, with a note at the open bracket that `closes` would close."""
        err = self.error(message)
        if closes in _OPENER and (opener := self.open_bracket(_OPENER[closes])) is not None:
            err.notes.append((opener.loc, f"to match this '{opener.text}'"))
        return err

    def open_bracket(self, p: str) -> Token | None:
        """The innermost `p` before the current token that is still open (for an error's
        note: where the bracket that is not closed was opened)."""
        stack: list[Token] = []
        for t in self.tokens[: self.i]:
            if t.kind is Tok.PUNCT and t.text in _CLOSER:
                stack.append(t)
            elif t.kind is Tok.PUNCT and t.text in _OPENER:
                # Pop to the matching opener; a stray closer matches nothing.
                for k in range(len(stack) - 1, -1, -1):
                    if stack[k].text == _OPENER[t.text]:
                        del stack[k:]
                        break
        return next((t for t in reversed(stack) if t.text == p), None)

    def comma_list(self, close: str, parse: Callable[[], _T], context: str) -> list[_T]:
        """`x, ...` up to `close` (a trailing comma allowed), then `close` itself."""
        items: list[_T] = []
        while not self.tok.is_punct(close):
            items.append(parse())
            if not self.accept(","):
                break
        self.expect(close, context)
        return items

    def comma_list1(self, close: str, parse: Callable[[], _T], context: str) -> list[_T]:
        """`x, ...` with at least one x and no trailing comma, then `close`."""
        items = [parse()]
        while self.accept(",") is not None:
            items.append(parse())
        self.expect(close, context)
        return items

    def in_parens(self, parse: Callable[[], _T]) -> _T:
        """`(x)`, with x read by `parse`."""
        self.expect("(")
        x = parse()
        self.expect(")")
        return x

    def expect_kind(self, kind: Tok, what: str) -> Token:
        if self.tok.kind is not kind:
            raise self.error(f"expected {what}, found {self.found()}")
        return self.next()

    # -- programs ------------------------------------------------------------------------

    def program(self) -> s.Program:
        t = self.tok
        if t.kind is Tok.HASH_ATTR:
            self.version_header()
            if not self.starts_expression():  # a module of definitions
                return self.definitions()
            # else the header is followed by one expression (what TVM's parse_expr takes)
        elif t.is_keyword("def") or t.is_keyword("type") or t.is_keyword("extern"):
            raise self.error('expected text format semantic version: #[version = "0.0.5"]')
        elif t.kind is Tok.EOF:
            raise self.error("empty program")
        body = self.expr()
        metadata = self.metadata()
        if self.tok.kind is not Tok.EOF:
            raise self.error(f"expected end of input, found {self.found()}")
        return s.Program([], [], metadata, body, frozenset(self.names))

    def starts_expression(self) -> bool:
        t = self.tok
        definition = any(t.is_keyword(k) for k in ("def", "type", "extern"))
        return not definition and t.kind not in (Tok.EOF, Tok.METADATA)

    def version_header(self) -> None:
        t = self.next()
        key, _, value = t.text.partition("=")
        if key.strip() != "version":
            raise self.error('expected the version header #[version = "0.0.5"]', t)
        if value.strip() != '"0.0.5"':
            raise self.error(
                f'unsupported text format version {value.strip()}; expected "0.0.5"', t
            )

    def metadata(self) -> str | None:
        if self.tok.kind is Tok.METADATA:
            return self.next().text
        return None

    def definitions(self) -> s.Program:
        type_defs: list[s.TypeDef] = []
        func_defs: list[s.FuncDef] = []
        while True:
            t = self.tok
            if t.is_keyword("def"):
                self.next()
                name = self.expect_kind(Tok.GLOBAL, "a global name such as @main")
                fn = self.func_def(t.loc)
                func_defs.append(s.FuncDef(name.text, fn, t.loc))
            elif t.is_keyword("type"):
                type_defs.append(self.type_def(extern=False))
            elif t.is_keyword("extern"):
                # TVM stops parsing after an `extern type`; here it is an ordinary definition.
                self.next()
                if not self.tok.is_keyword("type"):
                    raise self.error(f"expected 'type' after 'extern', found {self.found()}")
                type_defs.append(self.type_def(extern=True))
            else:
                break
        metadata = self.metadata()
        if self.tok.kind is not Tok.EOF:
            raise self.error(f"expected 'def', 'type' or end of input, found {self.found()}")
        return s.Program(type_defs, func_defs, metadata, references=frozenset(self.names))

    def type_params(self) -> list[str]:
        if not self.accept("["):
            return []
        return self.comma_list1(
            "]",
            lambda: self.expect_kind(Tok.IDENT, "a type parameter").text,
            "to close the type parameters",
        )

    def type_def(self, extern: bool) -> s.TypeDef:
        t = self.expect("type")
        name = self.expect_kind(Tok.IDENT, "a type name").text
        params = self.type_params()
        ctors: list[s.Ctor] = []
        if not extern and self.accept("{"):
            while not self.tok.is_punct("}"):
                ct = self.expect_kind(Tok.IDENT, "a constructor name")
                inputs: list[s.TypeExpr] = []
                if self.accept("("):
                    inputs = self.comma_list1(")", self.type, "to close the constructor's fields")
                ctors.append(s.Ctor(ct.text, inputs, ct.loc))
                if not self.accept(","):
                    break
            self.expect("}", "to close the type definition")
        return s.TypeDef(name, params, ctors, extern, t.loc)

    # -- functions -----------------------------------------------------------------------

    def func_def(self, loc: SourceLoc) -> s.Fn:
        type_params = self.type_params()
        self.expect("(", "to open the parameter list")
        params: list[s.Param] = []
        attrs: dict[str, s.AttrValue] = {}
        while not self.tok.is_punct(")"):
            if self.tok.kind is Tok.LOCAL:
                p = self.next()
                if self.accept("{"):  # `{virtual_device=...}` "fake attributes": read and dropped
                    self.attr_kvs({}, {})
                    self.expect("}")
                ptype = self.type() if self.accept(":") else None
                params.append(s.Param(p.text, ptype, p.loc))
            elif self.is_attr_start():
                self.attr_kvs(attrs, {})
                break
            else:
                raise self.error(f"expected a parameter such as %x, found {self.found()}")
            if not self.accept(","):
                break
        self.expect(")", "to close the parameter list")
        ret = self.type() if self.accept("->") else None
        self.expect("{", "to open the function body")
        body = self.expr()
        self.expect("}", "to close the function body")
        return s.Fn(type_params, params, ret, attrs, body, loc)

    # -- expressions ---------------------------------------------------------------------

    def expr(self) -> s.Expr:
        """A sequence: `let`/graph bindings, `free_var`s and `e;` items, then the body.

        Built iteratively: a model is thousands of bindings long."""
        with self.nested("expressions are"):
            return self.sequence()

    def sequence(self) -> s.Expr:
        wrappers: list[tuple[str, Token, object, object]] = []
        while True:
            t = self.tok
            if t.is_keyword("let"):
                self.next()
                var = self.expect_kind(Tok.LOCAL, "a variable after 'let'")
                vtype = self.type() if self.accept(":") else None
                self.expect("=", "in the let binding")
                value = self.expr_item()  # TVM takes only an operator expression here
                self.expect(";", "after the let binding's value")
                wrappers.append(("let", var, vtype, value))
            elif t.kind is Tok.GRAPH and self.peek().is_punct("="):
                self.next()
                self.next()
                value = self.expr_item()  # TVM takes only an operator expression here
                self.expect(";", "after the graph binding's value")
                wrappers.append(("graph", t, None, value))
            elif t.is_keyword("free_var"):
                self.next()
                var = self.expect_kind(Tok.LOCAL, "a variable after 'free_var'")
                vtype = self.type() if self.accept(":") else None
                self.accept(";")
                wrappers.append(("free", var, vtype, None))
            else:
                body = self.expr_item()
                if not self.tok.is_punct(";"):
                    break
                semi = self.next()
                if self.tok.kind is Tok.EOF or self.tok.is_punct("}"):
                    break  # a trailing `;` ends the sequence
                wrappers.append(("seq", semi, None, body))
        for kind, tok, vtype, value in reversed(wrappers):
            if kind == "free":
                body = s.FreeVar(tok.text, vtype, body, tok.loc)  # pyright: ignore
            elif kind == "seq":
                body = s.Let(None, False, None, value, body, tok.loc)  # pyright: ignore
            else:
                body = s.Let(tok.text, kind == "graph", vtype, value, body, tok.loc)  # pyright: ignore
        return body

    def expr_item(self) -> s.Expr:
        t = self.tok
        if t.is_punct("{"):
            self.next()
            e = self.expr()
            self.expect("}", "to close the block")
            return e
        if t.is_keyword("match") or t.is_keyword("match?"):
            return self.match()
        return self.binop_expr()

    def match(self) -> s.Match:
        t = self.next()
        data = self.postfix(self.atomic())
        self.expect("{", "to open the match clauses")
        clauses: list[s.Clause] = []
        while not self.tok.is_punct("}"):
            pattern = self.pattern()
            self.expect("=>", "after the pattern")
            clauses.append(s.Clause(pattern, self.clause_body()))
            if not self.accept(","):
                break
        self.expect("}", "to close the match clauses")
        if not clauses:
            raise self.error("a match needs at least one clause", t)
        return s.Match(data, clauses, t.text == "match", t.loc)

    def clause_body(self) -> s.Expr:
        """`e` or `{ e }` (as the printer writes it): one level of nesting either way."""
        if not self.tok.is_punct("{"):
            return self.expr()
        self.next()
        e = self.expr()
        self.expect("}", "to close the clause")
        return e

    def pattern(self) -> s.Pattern:
        with self.nested("patterns are"):
            return self.pattern_item()

    def pattern_item(self) -> s.Pattern:
        t = self.tok
        if t.kind is Tok.IDENT and t.text == "_":
            self.next()
            return s.PWild(t.loc)
        if t.kind is Tok.LOCAL:
            self.next()
            ptype = self.type() if self.accept(":") else None
            return s.PVar(t.text, ptype, t.loc)
        if t.is_punct("("):
            self.next()
            return s.PTuple(
                tuple(self.comma_list(")", self.pattern, "to close the tuple pattern")), t.loc
            )
        if t.kind is Tok.IDENT:
            self.next()
            fields: list[s.Pattern] = []
            if self.accept("("):
                fields = self.comma_list(")", self.pattern, "to close the constructor pattern")
            self.names.add(t.text)
            return s.PCtor(t.text, tuple(fields), t.loc)
        raise self.error(f"expected a pattern (_, %x, Ctor(...) or a tuple), found {self.found()}")

    def binop_expr(self, min_prec: int = 0) -> s.Expr:
        lhs = self.call_expr()
        while self.tok.kind is Tok.PUNCT and self.tok.text in BINARY_OPS:
            prec, op = BINARY_OPS[self.tok.text]
            if prec < min_prec:
                break
            t = self.next()
            rhs = self.binop_expr(prec + 1)  # all binary operators are left-associative
            lhs = s.Call(s.Name(op, t.loc), [lhs, rhs], {}, t.loc)  # an operator: no reference
        return lhs

    def call_expr(self) -> s.Expr:
        e = self.postfix(self.atomic())
        while self.tok.is_punct("("):
            t = self.next()
            args, attrs, attr_locs = self.call_args()
            self.expect(")", "to close the call")
            e = self.postfix(s.Call(e, args, attrs, t.loc, attr_locs))
        return e

    def postfix(self, e: s.Expr) -> s.Expr:
        # TVM parses one `.N` per atomic expression; any number is accepted here.
        while self.tok.is_punct(".") and self.peek().kind is Tok.INT:
            t = self.next()
            index = self.next()
            e = s.TupleGet(e, int(index.value[0]), t.loc)  # pyright: ignore
        return e

    def call_args(self) -> tuple[list[s.Expr], dict[str, s.AttrValue], dict[str, SourceLoc]]:
        args: list[s.Expr] = []
        attrs: dict[str, s.AttrValue] = {}
        locs: dict[str, SourceLoc] = {}
        while not self.tok.is_punct(")"):
            if self.is_attr_start():
                self.attr_kvs(attrs, locs)
                break
            args.append(self.expr())
            if not self.accept(","):
                break
        return args, attrs, locs

    def is_attr_start(self) -> bool:
        """`name=` or `a.b.c=` (but not `==`)."""
        k = 0
        if self.peek(k).kind is not Tok.IDENT:
            return False
        while self.peek(k + 1).is_punct(".") and self.peek(k + 2).kind is Tok.IDENT:
            k += 2
        return self.peek(k + 1).is_punct("=")

    def attr_kvs(self, attrs: dict[str, s.AttrValue], locs: dict[str, SourceLoc]) -> None:
        while self.is_attr_start():
            first = self.next()
            name = first.text
            while self.accept("."):
                name += "." + self.next().text
            self.expect("=")
            if name in attrs:
                raise self.error(f"attribute '{name}' is given twice", first)
            locs[name] = self.tok.loc
            attrs[name] = self.attr_value()
            if not self.accept(","):
                break

    def attr_value(self) -> s.AttrValue:
        t = self.tok
        if t.kind in (Tok.INT, Tok.FLOAT):
            self.next()
            return t.value[0]  # pyright: ignore
        if t.kind is Tok.STRING:
            self.next()
            return t.value
        if t.kind is Tok.IDENT and t.text in ("True", "False"):
            self.next()
            return t.text == "True"
        if t.kind is Tok.IDENT and t.text in ("None", "nullptr"):
            self.next()
            return None
        if t.is_punct("["):
            self.next()
            return self.comma_list("]", self.attr_value, "to close the attribute list")
        if t.is_punct("("):
            return self.in_parens(self.attr_value)
        raise self.error(f"expected an attribute value, found {self.found()}")

    def atomic(self) -> s.Expr:
        t = self.tok
        if t.kind is Tok.INT or t.kind is Tok.FLOAT:
            self.next()
            value, dtype = t.value  # pyright: ignore
            return s.Literal(value, dtype, t.loc)
        if t.kind is Tok.LOCAL:
            self.next()
            return s.Local(t.text, t.loc)
        if t.kind is Tok.GRAPH:
            self.next()
            return s.Graph(t.text, t.loc)
        if t.kind is Tok.GLOBAL:
            self.next()
            self.names.add("@" + t.text)
            return s.Global(t.text, t.loc)
        if t.kind is Tok.IDENT:
            if t.text in ("True", "False"):
                self.next()
                return s.Literal(t.text == "True", "bool", t.loc)
            if t.text == "meta" and self.peek().is_punct("["):
                return self.meta_ref()
            self.next()
            name = t.text
            while self.tok.is_punct(".") and self.peek().kind is Tok.IDENT:
                self.next()
                name += "." + self.next().text
            self.names.add(name)
            return s.Name(name, t.loc)
        if t.is_keyword("fn"):
            self.next()
            return self.func_def(t.loc)
        if t.is_keyword("if"):
            self.next()
            self.expect("(", "after 'if'")
            cond = self.expr()
            self.expect(")", "to close the condition")
            self.expect("{", "to open the then branch")
            then = self.expr()
            self.expect("}", "to close the then branch")
            self.expect("else", "after the then branch")
            self.expect("{", "to open the else branch")
            orelse = self.expr()
            self.expect("}", "to close the else branch")
            return s.If(cond, then, orelse, t.loc)
        if t.is_keyword("ref"):
            self.next()
            return s.RefCreate(self.in_parens(self.expr), t.loc)
        if t.is_keyword("ref_read"):
            self.next()
            return s.RefRead(self.in_parens(self.expr), t.loc)
        if t.is_keyword("ref_write"):
            self.next()
            self.expect("(")
            ref = self.expr()
            self.expect(",", "between the reference and the value")
            value = self.expr()
            self.expect(")")
            return s.RefWrite(ref, value, t.loc)
        if t.is_punct("("):
            self.next()
            if self.accept(")"):
                return s.Tuple([], t.loc)
            first = self.expr()
            if self.accept(")"):
                return first
            self.expect(",", "or ')' in the parenthesized expression", closes=")")
            fields = [first, *self.comma_list(")", self.expr, "to close the tuple")]
            return s.Tuple(fields, t.loc)
        raise self.error(f"expected an expression, found {self.found()}")

    def meta_ref(self) -> s.MetaRef:
        t = self.next()  # meta
        self.expect("[")
        kind = self.expect_kind(Tok.IDENT, "a metadata kind such as relay.Constant").text
        while self.accept("."):
            kind += "." + self.expect_kind(Tok.IDENT, "a name").text
        self.expect("]")
        self.expect("[")
        index = self.expect_kind(Tok.INT, "a metadata index")
        self.expect("]")
        return s.MetaRef(kind, int(index.value[0]), t.loc)  # pyright: ignore

    # -- types ---------------------------------------------------------------------------

    def type(self) -> s.TypeExpr:
        with self.nested("types are"):
            return self.type_item()

    def type_item(self) -> s.TypeExpr:
        t = self.tok
        if t.is_punct("("):
            # `(T)` is a one-field tuple type, as in TVM.
            self.next()
            return s.TupleT(
                tuple(self.comma_list(")", self.type, "to close the tuple type")), t.loc
            )
        if t.is_keyword("fn"):
            self.next()
            if self.tok.is_punct("["):
                raise self.error("a function type cannot have type parameters here")
            self.expect("(", "after 'fn' in a function type")
            params = self.comma_list(")", self.type, "to close the parameter types")
            self.expect("->", "in the function type")
            return s.FuncT(tuple(params), self.type(), t.loc)
        if t.is_keyword("ref"):
            # The printer writes `ref(T)`; TVM's parser cannot read it back, this one can.
            self.next()
            return s.RefT(self.in_parens(self.type), t.loc)
        if t.kind is Tok.IDENT:
            self.next()
            if t.text == "_":
                return s.IncompleteT(t.loc)
            if t.text == "Tensor":
                return self.tensor_type(t)
            if (dtype := scalar_dtype(t.text)) is not None:
                return s.TensorT((), dtype, t.loc)
            if _looks_like_dtype(t.text) and not self.tok.is_punct("["):
                raise self.error(f"unsupported dtype '{t.text}'", t)
            args: list[s.TypeExpr] = []
            if self.accept("["):
                args = self.comma_list1("]", self.type, "to close the type arguments")
            self.names.add(t.text)
            return s.NamedT(t.text, tuple(args), t.loc)
        raise self.error(f"expected a type, found {self.found()}")

    def dimension(self, d: Token) -> int:
        n = int(d.value[0])  # pyright: ignore
        if n < 0:
            raise self.error(
                f"a dimension cannot be negative ({d.text}); write ? for an unknown one", d
            )
        if n > MAX_DIM:
            raise self.error(f"dimension {d.text} is too large (at most {MAX_DIM})", d)
        return n

    def tensor_type(self, t: Token) -> s.TensorT:
        self.expect("[", "after 'Tensor'")
        self.expect("(", "to open the shape")
        dims: list[int | None] = []
        while not self.tok.is_punct(")"):
            d = self.tok
            if self.accept("?"):
                dims.append(None)
            elif d.kind is Tok.INT:
                self.next()
                dims.append(self.dimension(d))
            elif d.kind is Tok.IDENT and d.text == "meta":
                raise self.error("symbolic dimensions (meta[tir.Var]) are not supported; use ?")
            else:
                raise self.unclosed(
                    f"expected a dimension (an integer or ?), found {self.found()}", ")"
                )
            if not self.accept(","):
                break
        self.expect(")", "to close the shape")
        elements = 1
        for n in dims:
            elements *= n or 1
        if elements > MAX_ELEMENTS:
            limit = MAX_ELEMENTS.bit_length() - 1
            raise self.error(
                f"a tensor type of {elements} elements is too large (at most 2^{limit})", t
            )
        self.expect(",", "between the shape and the dtype")
        dt = self.expect_kind(Tok.IDENT, "a dtype")
        dtype = scalar_dtype(dt.text)
        if dtype is None:
            raise self.error(f"unsupported dtype '{dt.text}'", dt)
        self.expect("]", "to close the tensor type")
        return s.TensorT(tuple(dims), dtype, t.loc)


def parse_program(text: str, filename: str, line_offset: int = 0) -> s.Program:
    """Parse Relay text; raises RelayError at the offending position."""
    return Parser(text, filename, line_offset).program()
