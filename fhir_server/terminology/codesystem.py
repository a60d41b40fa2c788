"""A CodeSystem as an index: concepts by code, with their displays, designations and hierarchy.

The hierarchy comes from nested ``concept`` (R4 CodeSystem.concept.concept) and from the
``parent`` / ``subsumedBy`` properties; ``is-a`` / ``descendent-of`` filters, ``$lookup``
and the search modifiers ``:above`` / ``:below`` walk it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Concept:
    system: str
    code: str
    display: str | None = None
    designations: tuple[tuple[str | None, str], ...] = ()  # (language, value)
    version: str | None = None

    def display_in(self, language: str | None) -> str | None:
        """The display in ``language`` (zh, en, zh-CN...) when a designation has it, else the display."""
        if language:
            wanted = language.lower().split(",")[0].split(";")[0].strip()
            for lang, value in self.designations:
                if lang and (lang.lower() == wanted or lang.lower().split("-")[0] == wanted.split("-")[0]):
                    return value
        return self.display


@dataclass
class CodeSystemIndex:
    url: str
    version: str | None = None
    content: str = "complete"
    case_sensitive: bool = True
    name: str | None = None
    concepts: dict[str, Concept] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    properties: dict[str, list[dict]] = field(default_factory=dict)

    @classmethod
    def from_resource(cls, resource: dict) -> CodeSystemIndex:
        index = cls(url=resource["url"], version=resource.get("version"), content=resource.get("content", "complete"),
                    case_sensitive=resource.get("caseSensitive", True) is not False,
                    name=resource.get("title") or resource.get("name"))
        index._add(resource.get("concept") or [], None)
        for code, props in index.properties.items():
            for p in props:
                if p.get("code") in ("parent", "subsumedBy") and p.get("valueCode"):
                    index._link(p["valueCode"], code)
        return index

    @classmethod
    def from_compact(cls, url: str, content: str, rows: list) -> CodeSystemIndex:
        """From the compact ``[code, display, [children]]`` rows of the derived R4 data file."""
        index = cls(url=url, content=content)

        def walk(items: list, parent: str | None) -> None:
            for row in items:
                code = row[0]
                index.concepts.setdefault(code, Concept(url, code, row[1]))
                if parent is not None:
                    index._link(parent, code)
                if len(row) > 2:
                    walk(row[2], code)

        walk(rows, None)
        return index

    def _add(self, concepts: list[dict], parent: str | None) -> None:
        for c in concepts:
            if not isinstance(c, dict) or not isinstance(c.get("code"), str):
                continue
            designations = tuple((d.get("language"), d["value"]) for d in c.get("designation", [])
                                 if isinstance(d, dict) and isinstance(d.get("value"), str) and not d.get("use"))
            self.concepts.setdefault(c["code"], Concept(self.url, c["code"], c.get("display"), designations,
                                                        self.version))
            if c.get("property"):
                self.properties[c["code"]] = [p for p in c["property"] if isinstance(p, dict)]
            if parent is not None:
                self._link(parent, c["code"])
            self._add(c.get("concept") or [], c["code"])

    def _link(self, parent: str, child: str) -> None:
        if child not in self.parents.setdefault(parent, []) and parent != child:
            self.children.setdefault(parent, []).append(child)
            self.parents.setdefault(child, []).append(parent)

    def get(self, code: str) -> Concept | None:
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            lowered = code.lower()
            found = next((c for k, c in self.concepts.items() if k.lower() == lowered), None)
        return found

    def descendants(self, code: str, *, include_self: bool = True) -> list[str]:
        """``code`` and every code below it (is-a), depth first in definition order."""
        out, seen = [], set()
        stack = [code] if include_self else list(reversed(self.children.get(code, [])))
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return out

    def ancestors(self, code: str) -> list[str]:
        """``code`` and every code above it."""
        out, seen, stack = [], set(), [code]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            stack.extend(self.parents.get(current, []))
        return out

    def subsumes(self, a: str, b: str) -> bool:
        """True when ``a`` subsumes ``b`` (``b`` is-a ``a``)."""
        return a in self.ancestors(b)
