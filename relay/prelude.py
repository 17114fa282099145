"""relay.prelude.Prelude: the prelude's ADTs and functions (prelude.rly of the text
frontend) added to a module, by TVM's names (`p.nil`, `p.cons`, `p.map`, ...)."""

from __future__ import annotations

from relay_opt.relay import expr as e
from relay_opt.relay.module import IRModule
from relay_opt.relay.ty import TypeCall, TypeVar


class Prelude:
    def __init__(self, mod: IRModule | None = None):
        from relay_opt.frontends.relay_text.prelude import prelude
        from relay_opt.relay.convert import FromSyntax

        self.mod = mod if mod is not None else IRModule()
        conv = FromSyntax(prelude(), [])
        for td in conv.type_data.values():
            if td.header.name_hint not in self.mod._types:  # pyright: ignore[reportPrivateUsage]
                self.mod.add_type_data(td)
        for name, fn in conv.functions().items():
            if name not in self.mod:
                self.mod[conv.globals[name]] = fn
        self.l, self.cons, self.nil = self.get_type("List")
        self.optional, self.some, self.none = self.get_type("Option")
        self.tree, self.rose = self.get_type("Tree")

    def get_type(self, name: str) -> tuple:  # noqa: ANN401
        """(the ADT's type, its constructors...)."""
        return self.mod.get_type(name)

    def get_ctor(self, ty_name: str, name: str) -> e.Constructor:
        for c in self.mod.get_type(ty_name)[1:]:
            if c.name_hint.lower() == name.lower():
                return c
        raise ValueError(f"type {ty_name} has no constructor {name}")

    def get_global_var(self, name: str) -> e.GlobalVar:
        return self.mod.get_global_var(name)

    def list_of(self, t: object) -> TypeCall:
        """`List[t]`."""
        assert isinstance(self.l, TypeVar)
        return TypeCall(self.l, [t])  # pyright: ignore[reportArgumentType]

    def __getattr__(self, name: str) -> e.GlobalVar:
        # p.map, p.foldl, p.hd, ...: the prelude's functions by name.
        if name.startswith("_") or "mod" not in self.__dict__:
            raise AttributeError(name)
        try:
            return self.mod.get_global_var(name)
        except ValueError:
            raise AttributeError(f"the prelude has no function '{name}'") from None
