"""The columns of a real export → the form's fields, decided once per file.

A column is matched by the form's header, a header variant of the form table, or either
without a unit in brackets (:meth:`tables.Form.field_for`).  A column that matches nothing
is reported once for the file ("column 联系电话 ignored; did you mean 本人电话?") and its
cells are left out; with ``strict`` it is kept, so every row with a value in it is refused
as before.  When two columns name one field, the form's own header wins over a variant and
the first column over a later one; the loser is reported once and ignored."""

from __future__ import annotations

from . import tables

JSON_ERROR = "\0json"  # the readers' marker of an unreadable JSON record


class Columns:
    def __init__(self, record_type: str, strict: bool = False) -> None:
        self.form = tables.form(record_type)
        self.strict = strict
        self.notices: list[str] = []
        self._known: dict[tuple[str, ...], dict[str, str | None]] = {}

    def canonical(self, cells: dict) -> dict:
        """The row's cells under the form's headers (unknown columns dropped unless strict)."""
        names = tuple(name for name in cells if name is not None)
        plan = self._known.get(names)
        if plan is None:
            plan = self._known[names] = self._plan(names)
        out: dict = {}
        for name, value in cells.items():
            if name is None:
                continue
            target = plan.get(name)
            if target is not None:
                out[target] = value
        return out

    def _plan(self, names: tuple[str, ...]) -> dict[str, str | None]:
        plan: dict[str, str | None] = {}
        claimed: dict[str, str] = {}
        fields = {name: self.form.field_for(name) for name in names if name != JSON_ERROR}
        def own_header_first(name: str) -> bool:
            fld = fields[name]
            return fld is None or tables.header_key(name) != tables.header_key(fld.header)

        own_first = sorted(fields, key=own_header_first)
        for name in own_first:
            fld = fields[name]
            if fld is None:
                plan[name] = name if self.strict else None
                if not self.strict:
                    self._notice(self._unknown(name))
            elif fld.header in claimed:
                plan[name] = None
                self._notice(f"column {name} ignored: column {claimed[fld.header]} already gives {fld.header}")
            else:
                claimed[fld.header] = name
                plan[name] = fld.header
        if JSON_ERROR in names:
            plan[JSON_ERROR] = JSON_ERROR
        return plan

    def _unknown(self, name: str) -> str:
        guess = self.form.suggest(name)
        hint = f"did you mean {guess}?" if guess else f"it is not a column of {self.form.title}"
        return f"column {name} ignored; {hint}"

    def _notice(self, text: str) -> None:
        if text not in self.notices:
            self.notices.append(text)
