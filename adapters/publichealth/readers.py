"""Readers for the formats the public-health systems export: JSON, JSON Lines, CSV, XLSX.

Every reader yields ``(row, cells)``: the row number a person finds in the file (CSV and
XLSX: the spreadsheet row, the header being row 1; JSON: the position in the array from
1; JSON Lines: the line) and a dict column header → raw cell.

CSV encodings are detected without asking: a UTF-8 BOM, else strict UTF-8, else GB18030
(what Excel on a Chinese Windows writes; a superset of GBK and GB2312).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

FORMATS = ("csv", "xlsx", "json", "jsonl")
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".json": "json",
               ".jsonl": "jsonl", ".ndjson": "jsonl"}


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise ValueError(f"cannot tell the format of {Path(path).name} from its extension; use --format "
                         f"({', '.join(FORMATS)})")
    return _EXTENSIONS[suffix]


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) of CSV bytes: utf-8-sig, utf-8 or gb18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is neither UTF-8 nor GB18030 (byte {exc.start})") from None


def read_csv(path: str | Path) -> Iterator[tuple[int, dict]]:
    text, _encoding = decode(Path(path).read_bytes())
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = None
    for row in reader:
        if header is None:
            if not any(cell.strip() for cell in row):
                continue
            header = [cell.strip() for cell in row]
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield reader.line_num, dict(zip(header, row, strict=False))


def read_xlsx(path: str | Path) -> Iterator[tuple[int, dict]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        header = None
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if header is None:
                if not any(v not in (None, "") for v in row):
                    continue
                header = [str(v).strip() if v is not None else "" for v in row]
                continue
            if not any(v not in (None, "") for v in row):
                continue
            yield number, {h: v for h, v in zip(header, row, strict=False) if h}
    finally:
        book.close()


def read_json(path: str | Path) -> Iterator[tuple[int, dict]]:
    text, _ = decode(Path(path).read_bytes())
    data = json.loads(text)
    if isinstance(data, dict):  # {"records": [...]} or one record
        data = data.get("records", [data])
    if not isinstance(data, list):
        raise ValueError("a JSON file holds an array of records (or {\"records\": [...]})")  # noqa: TRY004
    for index, item in enumerate(data, start=1):
        yield index, item if isinstance(item, dict) else {"": item}


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    text, _ = decode(Path(path).read_bytes())
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, {"\0json": f"not JSON: {exc.msg}"}
            continue
        yield number, item if isinstance(item, dict) else {"\0json": "a line holds one JSON object"}


READERS = {"csv": read_csv, "xlsx": read_xlsx, "json": read_json, "jsonl": read_jsonl}


def read(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, dict]]:
    return READERS[fmt or detect_format(path)](path)
