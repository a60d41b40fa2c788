"""Writers of the legacy forms: CSV (UTF-8 with BOM, Chinese headers), XLSX, JSON, JSON Lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from . import tables


def cells(record_type: str, record: dict) -> dict[str, object]:
    """Header → cell of one record, in the form's column order (multi-codes joined by 、)."""
    out: dict[str, object] = {}
    for fld in tables.form(record_type).fields:
        value = record.get(fld.key)
        if isinstance(value, list):
            value = "、".join(value)
        out[fld.header] = value
    return out


def write(path: str | Path, record_type: str, records: list[dict], fmt: str) -> None:
    headers = [f.header for f in tables.form(record_type).fields]
    rows = [cells(record_type, r) for r in records]
    if fmt == "csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            for row in rows:
                writer.writerow(["" if row[h] is None else row[h] for h in headers])
    elif fmt == "xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet(tables.TITLES[record_type][:31])
        sheet.append(headers)
        for row in rows:
            sheet.append([row[h] for h in headers])
        book.save(path)
    elif fmt == "json":
        data = [{h: v for h, v in row.items() if v is not None} for row in rows]
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({h: v for h, v in row.items() if v is not None}, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
