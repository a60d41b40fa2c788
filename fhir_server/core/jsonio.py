"""JSON in and out with orjson, with the guards bad input needs (FHIR R4 §json; SPEC §6).

Invalid UTF-8, malformed JSON and documents nested deeper than the configured limit become a
400 OperationOutcome before anything else looks at them.
"""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.core.errors import BadRequest

DEFAULT_MAX_DEPTH = 64


def loads(data: bytes | str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        code = "structure"
        if "UTF-8" in reason or "utf-8" in reason:
            raise BadRequest(f"The body is not valid UTF-8: {reason}", code=code) from None
        raise BadRequest(f"The body is not valid JSON: {reason}", code=code) from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse documents nested deeper than ``max_depth`` (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"The body is nested deeper than the limit of {max_depth} levels", code="too-costly")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))


def dumps(value: Any, pretty: bool = False) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
