"""Shared helpers for the pytest suite."""

from __future__ import annotations

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer

from relay_opt.dialects.relay import get_relay_dialect


def relay_context() -> Context:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(get_relay_dialect())
    return ctx


def parse_module(text: str) -> ModuleOp:
    return Parser(relay_context(), text, "test.mlir").parse_module()


def print_module(module: ModuleOp) -> str:
    from io import StringIO

    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


@pytest.fixture
def ctx() -> Context:
    return relay_context()
