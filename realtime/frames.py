"""Parsing client frames: one frame must not be able to break the parser, the channel layer
(msgpack refuses unpaired surrogates), or the JSON encoder of the peer it is relayed to."""

import json
import math
import re

MAX_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BadFrame(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse(text: str):
    """The decoded frame, or BadFrame with a message the client can act on."""
    try:
        # NaN/Infinity are Python's extension, not JSON: a browser peer could not parse them back.
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # a few KB of "[[[[" is enough; it must not kill the consumer
        raise BadFrame(f"Frames must not be nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError:
        raise BadFrame("Frames must be valid JSON.") from None
    _check(value)
    return value


def _check(value) -> None:
    # Iterative on purpose: the input is hostile, so no recursion over it.
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadFrame(f"Frames must not be nested more than {MAX_DEPTH} levels deep.")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise BadFrame("Frames must not contain unpaired surrogate escapes (\\ud800-\\udfff).")
        elif isinstance(item, float) and not math.isfinite(item):  # e.g. 1e400 parses as inf
            raise BadFrame("Numbers in frames must be finite.")
