"""The NDJSON files of one resource type, split by size, that a job can resume at a checkpoint.

Files are ``<Type>-<n>.ndjson`` in the job's folder.  A new file starts when the next line
would take the current one past the size limit (a file always holds at least one line).  The
writer's :class:`Position` (file number, bytes, lines) is what a checkpoint records after the
lines of a page are handed to the operating system (flushed: they survive the worker process);
resuming from a position truncates the file to that size and drops any later file, so lines
written after the last checkpoint by a worker that died are written once again, never twice.

A file is fsynced when it is complete (a split, the end of the type), not after every page:
fsync per page cost a third of the export's time.  Only a crash of the machine itself can then
lose lines behind a checkpoint; :meth:`TypeFiles.intact` sees that on resume (a file shorter than
recorded) and the runner writes the type again from its start.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from fhir_server.core import jsonio
from fhir_server.storage import documents

_DECIMALS_MARK = documents.DECIMALS.encode()
_TYPE_FIRST = b'{"resourceType":'


@dataclass(slots=True)
class Position:
    part: int = 1
    size: int = 0  # bytes of the current file
    lines: int = 0  # lines of the current file
    done: tuple[tuple[str, int], ...] = ()  # earlier files of the type: (name, lines)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> Position:
        if not data:
            return cls()
        return cls(data["part"], data["size"], data["lines"], tuple((n, c) for n, c in data["done"]))


def line(text: str) -> bytes:
    """One NDJSON line from the stored JSON text (a document carrying exact decimals is rewritten
    with them, without the storage's own key).  ``resourceType`` comes first, as SQLite keeps it:
    PostgreSQL's ``jsonb`` prints keys shortest first (``{"id": ..., "meta": ...,
    "resourceType": ...}``), so its text is read and written again, compact, resourceType first
    (nested objects keep ``jsonb``'s order)."""
    data = text.encode("utf-8")
    if _DECIMALS_MARK in data:
        document = documents.from_database(data)
        data = jsonio.dumps(_type_first(document) if isinstance(document, dict) else document)
    elif not data.startswith(_TYPE_FIRST):
        document = orjson.loads(data)
        if isinstance(document, dict):
            data = orjson.dumps(_type_first(document))
    return data + b"\n"


def _type_first(document: dict) -> dict:
    if "resourceType" not in document:
        return document
    return {"resourceType": document["resourceType"], **document}


class TypeFiles:
    def __init__(self, folder: Path, res_type: str, max_bytes: int, position: Position | None = None) -> None:
        self.folder, self.res_type, self.max_bytes = folder, res_type, max_bytes
        self.position = position or Position()
        folder.mkdir(parents=True, exist_ok=True)
        self._drop_later_parts()
        self._file = self._open()

    def name(self, part: int | None = None) -> str:
        return f"{self.res_type}-{part or self.position.part}.ndjson"

    @staticmethod
    def intact(folder: Path, res_type: str, position: Position) -> bool:
        """Are the files a checkpoint recorded all there, at least as long as recorded?"""
        current = folder / f"{res_type}-{position.part}.ndjson"
        if position.size and (not current.exists() or current.stat().st_size < position.size):
            return False
        return all((folder / name).exists() for name, _ in position.done)

    def write(self, data: bytes) -> None:
        p = self.position
        if p.lines and p.size + len(data) > self.max_bytes:
            self._finish()
            p.done, p.part, p.size, p.lines = (*p.done, (self.name(), p.lines)), p.part + 1, 0, 0
            self._file = self._open()
        self._file.write(data)
        p.size += len(data)
        p.lines += 1

    def sync(self) -> Position:
        """Everything written so far handed to the operating system: the position a checkpoint may record."""
        self._file.flush()
        return Position(self.position.part, self.position.size, self.position.lines, self.position.done)

    def close(self) -> list[tuple[str, int]]:
        """The type's files and their line counts (an empty last file is removed)."""
        self._finish()
        files = list(self.position.done)
        if self.position.lines:
            files.append((self.name(), self.position.lines))
        else:
            (self.folder / self.name()).unlink(missing_ok=True)
        return files

    def _finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def _open(self) -> BinaryIO:
        path = self.folder / self.name()
        if self.position.size and not path.exists():
            raise FileNotFoundError(f"{path.name} of an export being resumed is gone (was the export folder cleared?)")
        handle = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115 (kept open across pages)
        handle.truncate(self.position.size)
        handle.seek(self.position.size)
        return handle

    def _drop_later_parts(self) -> None:
        part = self.position.part + 1
        while (self.folder / self.name(part)).exists():
            (self.folder / self.name(part)).unlink()
            part += 1
