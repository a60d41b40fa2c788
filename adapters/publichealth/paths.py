"""A tiny path language for the mapping tables: ``identifier[system=urn:oid:…].value``,
``name[0].text``, ``note[id=history].text``, ``extension[url=…].valueCodeableConcept``.

``put`` creates what is missing on the way; ``get`` returns None when anything is missing.
"""

from __future__ import annotations

import functools
import re

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(?:(\d+)|([A-Za-z]+)=(.*))\])?$")


@functools.cache
def parse(path: str) -> tuple[tuple[str, int | None, str | None, str | None], ...]:
    parts, depth, current = [], 0, ""
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    out = []
    for part in parts:
        m = _SEGMENT.match(part)
        if not m:
            raise ValueError(f"bad path segment {part!r} in {path!r}")
        out.append((m[1], int(m[2]) if m[2] is not None else None, m[3], m[4]))
    return tuple(out)


def put(resource: dict, path: str, value) -> None:
    segments = parse(path)
    node = resource
    for i, (name, index, attr, attr_value) in enumerate(segments):
        last = i == len(segments) - 1
        if index is None and attr is None:
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            continue
        items = node.setdefault(name, [])
        if index is not None:
            while len(items) <= index:
                items.append({})
            if last:
                items[index] = value
                return
            node = items[index]
        else:
            found: dict | None = next((x for x in items if x.get(attr) == attr_value), None)
            if found is None:
                found = {attr: attr_value}
                items.append(found)
            if last:
                found.clear()
                found.update({attr: attr_value, **value} if isinstance(value, dict) else {attr: attr_value})
                return
            node = found


def get(resource: dict, path: str):
    node: object = resource
    for name, index, attr, attr_value in parse(path):
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
        if index is not None:
            if not isinstance(node, list) or len(node) <= index:
                return None
            node = node[index]
        elif attr is not None:
            if not isinstance(node, list):
                return None
            node = next((x for x in node if isinstance(x, dict) and x.get(attr) == attr_value), None)
            if node is None:
                return None
    return node
