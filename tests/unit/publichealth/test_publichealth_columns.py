"""Real exports: header variants of the form tables, spaces, full-width forms and units in
brackets are matched; an unknown column is reported once for the file and ignored (refused
per row with strict columns); messages name the field and what it must be."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from adapters.publichealth import tables
from adapters.publichealth.importer import read_records

DATA = Path(__file__).resolve().parents[2] / "data" / "publichealth"


def _rewrite_headers(source: Path, target: Path, rename: dict[str, str], extra: dict[str, str] | None = None) -> None:
    """The golden CSV with its headers renamed as another system exports them, plus extra columns."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [rename.get(h, h) for h in rows[0]] + list(extra or {})
    body = [row + list((extra or {}).values()) for row in rows[1:]]
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *body])


@pytest.mark.parametrize(("record_type", "rename"), [
    ("resident", {"本人电话": "联系电话", "档案编号": "健康档案编号", "出生日期": "出 生 日 期"}),
    ("hypertension-follow-up", {"随访日期": "随访时间", "收缩压": "血压(收缩压)", "舒张压": "舒张压（mmHg）",
                                "档案编号": "档案号", "体重": "体重(kg)", "心率": "ｓ心率".replace("ｓ", "")}),
    ("diabetes-follow-up", {"随访日期": "随访时间", "收缩压": "收缩压 (mmHg)", "空腹血糖": "空腹血糖(mmol/L)"}),
])
def test_header_variants_read_like_the_forms_own(tmp_path, record_type, rename):
    path = tmp_path / f"{record_type}.csv"
    _rewrite_headers(DATA / f"{record_type}.csv", path, rename)
    expected, _, _ = read_records(DATA / f"{record_type}.csv", record_type)
    notices: list[str] = []
    good, errors, _count = read_records(path, record_type, notices=notices)
    assert errors == [] and notices == []
    assert good == expected


def test_an_unknown_column_is_reported_once_and_ignored(tmp_path):
    path = tmp_path / "r.csv"
    _rewrite_headers(DATA / "resident.csv", path, {}, {"微信号": "wx_1", "建档人电话": "13900000000"})
    expected, _, count = read_records(DATA / "resident.csv", "resident")
    notices: list[str] = []
    good, errors, _ = read_records(path, "resident", notices=notices)
    assert errors == [] and good == expected and count > 1
    assert notices[0] == "column 微信号 ignored; it is not a column of 个人基本信息表"
    assert notices[1].startswith("column 建档人电话 ignored; did you mean ")
    assert len(notices) == 2


def test_strict_columns_refuse_the_rows(tmp_path):
    path = tmp_path / "r.csv"
    _rewrite_headers(DATA / "resident.csv", path, {}, {"微信号": "wx_1"})
    notices: list[str] = []
    good, errors, count = read_records(path, "resident", strict_columns=True, notices=notices)
    assert good == [] and len(errors) == count and notices == []
    assert errors[0].field == "微信号" and "not a column of 个人基本信息表" in errors[0].reason


def test_a_variant_and_the_forms_header_together_the_forms_header_wins(tmp_path):
    path = tmp_path / "r.csv"
    _rewrite_headers(DATA / "resident.csv", path, {}, {"联系电话": "010-12345678"})
    expected, _, _ = read_records(DATA / "resident.csv", "resident")
    notices: list[str] = []
    good, errors, _ = read_records(path, "resident", notices=notices)
    assert errors == [] and good == expected
    assert notices == ["column 联系电话 ignored: column 本人电话 already gives 本人电话"]


def test_the_variants_are_data_in_the_tables():
    fields = {f.header: f for f in tables.form("resident").fields}
    assert {"联系电话", "手机号码", "电话"} <= set(fields["本人电话"].aliases)
    assert {"健康档案编号", "档案号"} <= set(fields["档案编号"].aliases)
    follow_up = {f.header: f for f in tables.form("hypertension-follow-up").fields}
    assert "随访时间" in follow_up["随访日期"].aliases and "血压(收缩压)" in follow_up["收缩压"].aliases
    every = [(t, a) for t in tables.RECORD_TYPES for f in tables.form(t).fields for a in f.aliases]
    for record_type, alias in every:  # a variant names one field of its form
        assert tables.form(record_type).field_for(alias) is not None, (record_type, alias)
