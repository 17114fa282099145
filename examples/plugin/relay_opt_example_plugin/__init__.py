"""An example relay-opt plugin: the `stats` dialect and the `count-relay-ops` pass.

`count-relay-ops` records, at the top of each `relay.func`, how many calls of
each Relay operator its body makes, as a `stats.op_count` op per operator:

    relay.func @f(...) {
      stats.op_count "nn.conv2d" 2 : i64
      ...

Installed, it reaches relay-opt through the `xdsl.universe` entry point
(pyproject.toml). Not installed, `relay-opt --load-plugin relay_opt_example_plugin`
loads it from PYTHONPATH.
"""

from xdsl.universe import Universe


def _stats_dialect():
    from relay_opt_example_plugin.stats import Stats

    return Stats


def _count_pass():
    from relay_opt_example_plugin.count_ops import CountRelayOpsPass

    return CountRelayOpsPass


UNIVERSE = Universe(
    all_dialects={"stats": _stats_dialect},
    all_passes={"count-relay-ops": _count_pass},
)
