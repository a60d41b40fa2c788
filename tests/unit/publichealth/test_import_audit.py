"""The AuditEvent of an import run (``adapters.publichealth.import_audit``): its outcome from
the counts, the refused rows in words, and no cell value."""

from __future__ import annotations

from adapters.publichealth.import_audit import import_event, record, safe_reason
from adapters.publichealth.importer import ImportResult, RowError

ID_NUMBER = "11010519491231002X"


def _result(rows: int, created: int, rejected: int, errors: list[RowError]) -> ImportResult:
    return ImportResult("/clinic/exports/2026-12 居民.csv", "resident", rows=rows, created=created,
                        rejected=rejected, errors=errors)


def test_every_row_written_is_outcome_0_with_the_counts():
    event = import_event(_result(3, 3, 0, []))
    assert event["outcome"] == "0" and event["action"] == "C"
    assert event["subtype"][0]["code"] == "resident" and event["subtype"][0]["display"] == "个人基本信息表"
    entity = event["entity"][0]
    assert entity["what"]["identifier"]["value"] == entity["name"] == "2026-12 居民.csv"  # the name, not the path
    assert {d["type"]: d["valueString"] for d in entity["detail"]} == {
        "rows": "3", "created": "3", "updated": "0", "unchanged": "0", "rejected": "0"}
    assert event["outcomeDesc"] == "3 rows: 3 written, 0 refused"


def test_some_rows_refused_is_outcome_4_listing_them_without_their_values():
    errors = [RowError("f.csv", 3, "身份证号", ID_NUMBER, f"身份证号 must be an 18-character 身份证号; got 18 "
                                                      f"characters ('{ID_NUMBER}') (check character)"),
              RowError("f.csv", 4, "出生日期", "2019年2月30日", "出生日期 must be a date; got '2019年2月30日'")]
    event = import_event(_result(4, 2, 2, errors))
    assert event["outcome"] == "4"
    assert event["outcomeDesc"] == ("4 rows: 2 written, 2 refused; row 3 身份证号: 身份证号 must be an 18-character "
                                    "身份证号; row 4 出生日期: 出生日期 must be a date")
    assert ID_NUMBER not in str(event) and "2019年2月30日" not in str(event)


def test_a_rejected_file_is_outcome_8_and_long_lists_are_cut():
    errors = [RowError("f.csv", row, "档案编号", "1", "档案编号 must be 17 digits; got 1 digits")
              for row in range(2, 12)]
    event = import_event(_result(10, 0, 10, errors))
    assert event["outcome"] == "8"
    assert event["outcomeDesc"].startswith("10 rows: the file was rejected, nothing written; row 2 档案编号")
    assert event["outcomeDesc"].endswith("5 more in the error report")


def test_a_server_diagnostic_with_a_number_in_it_is_masked():
    assert safe_reason(f"Patient with 身份证号 {ID_NUMBER} not found; call 13912345678") == \
        "Patient with 身份证号 … not found; call …"


def test_recording_never_fails_the_import():
    class Refusing:
        def create(self, resource):
            raise RuntimeError("403")

    class Keeping:
        def __init__(self):
            self.created = []

        def create(self, resource):
            self.created.append(resource)
            return resource

    assert record(Refusing(), _result(1, 1, 0, [])) is False  # type: ignore[arg-type]
    keeping = Keeping()
    assert record(keeping, _result(1, 1, 0, [])) is True  # type: ignore[arg-type]
    assert keeping.created[0]["resourceType"] == "AuditEvent"
