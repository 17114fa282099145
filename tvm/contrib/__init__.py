"""tvm.contrib: graph_executor."""

from relay_opt.tvm.contrib import graph_executor as graph_executor
