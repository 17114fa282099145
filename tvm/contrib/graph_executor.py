"""tvm.contrib.graph_executor: `GraphModule(lib["default"](dev))`."""

from relay_opt.relay.build_module import GraphModule

__all__ = ["GraphModule"]
