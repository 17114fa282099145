"""relay-opt's dialects and passes, published to xDSL's `xdsl.universe` plugin group."""

from xdsl.universe import Universe

from relay_opt.passes import get_all_passes


def _relay():
    from relay_opt.dialects.relay import get_relay_dialect

    return get_relay_dialect()


RELAY_UNIVERSE = Universe(all_dialects={"relay": _relay}, all_passes=get_all_passes())
