"""Regenerate the golden files of the public-health adapter tests (synthetic residents only).

    python tests/data/publichealth/make_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

from adapters.publichealth import synthetic, writers

HERE = Path(__file__).resolve().parent


def records() -> dict[str, list[dict]]:
    people = synthetic.residents(6, seed=3)
    return {"resident": people, "team": synthetic.teams(1), "contract": synthetic.contracts(people),
            "hypertension-follow-up": synthetic.follow_ups(people[:3], 2, "hypertension-follow-up"),
            "diabetes-follow-up": synthetic.follow_ups(people[3:5], 2, "diabetes-follow-up"),
            "referral": synthetic.referrals(people[:2])}


def main() -> None:
    for record_type, recs in records().items():
        (HERE / f"{record_type}.expected.json").write_text(
            json.dumps(recs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for fmt in ("csv", "xlsx", "json", "jsonl"):
            writers.write(HERE / f"{record_type}.{fmt}", record_type, recs, fmt)
        text = (HERE / f"{record_type}.csv").read_text(encoding="utf-8-sig")
        (HERE / f"{record_type}.gb18030.csv").write_bytes(text.encode("gb18030"))
        (HERE / f"{record_type}.utf8.csv").write_bytes(text.encode("utf-8"))


if __name__ == "__main__":
    main()
