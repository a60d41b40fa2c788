"""``jiayi import`` / ``jiayi export`` as subprocesses against a running ``jiayi serve`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from adapters.publichealth import synthetic, writers
from adapters.publichealth.import_audit import FORM
from adapters.publichealth.importer import read_records
from fhir_server.core.national_ids import make_id

pytestmark = pytest.mark.e2e
DATA = Path(__file__).resolve().parents[1] / "data" / "publichealth"


def jiayi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fhir_server.cli", *args], capture_output=True, text=True, check=False,
                          timeout=300)


def _import(path: Path, record_type: str, server: str, *extra: str) -> subprocess.CompletedProcess:
    return jiayi("import", str(path), "--type", record_type, "--server", server, "--quiet", *extra)


def _packages(server: str) -> None:
    """The district's service packages (PlanDefinitions), which contracts name: configured, not imported."""
    import requests

    from fhir_server.demo import catalog
    from fhir_server.demo.services import plan_definition

    for package in catalog.PACKAGES:
        res = plan_definition(package, 2026)
        assert requests.put(f"{server}/PlanDefinition/{res['id']}", json=res, timeout=30).status_code in (200, 201)


@pytest.fixture(scope="module")
def loaded(server, tmp_path_factory):
    """Every golden file imported once (residents first, then what refers to them)."""
    _packages(server)
    work = tmp_path_factory.mktemp("ph")
    out = {}
    for record_type, fmt in (("resident", "gb18030.csv"), ("team", "xlsx"), ("contract", "csv"),
                             ("hypertension-follow-up", "xlsx"), ("diabetes-follow-up", "jsonl"), ("referral", "json")):
        path = work / f"{record_type}.{fmt}"
        shutil.copy(DATA / path.name, path)
        result = _import(path, record_type, server)
        out[record_type] = (path, result)
    return work, out


def test_first_import_creates_every_row(loaded):
    _work, out = loaded
    for record_type, (path, result) in out.items():
        assert result.returncode == 0, result.stderr
        _good, _errors, rows = read_records(path, record_type)
        assert f"created {rows}, updated 0, unchanged 0, rejected 0" in result.stdout, (record_type, result.stdout)
        assert not Path(f"{path}.errors.csv").exists()


def test_second_import_changes_nothing(loaded, server):
    _work, out = loaded
    for record_type, (path, _result) in out.items():
        again = _import(path, record_type, server, "--batch-size", "3")
        assert again.returncode == 0, again.stderr
        assert "created 0, updated 0, unchanged" in again.stdout and "rejected 0" in again.stdout, again.stdout


@pytest.mark.parametrize("record_type", ["resident", "team", "contract", "hypertension-follow-up",
                                         "diabetes-follow-up", "referral"])
def test_export_gives_back_every_mapped_field(loaded, server, record_type):
    work, out = loaded
    target = work / f"export-{record_type}.csv"
    result = jiayi("export", "--type", record_type, "--server", server, "--output", str(target))
    assert result.returncode == 0, result.stderr
    source, _ = out[record_type]
    original = [rec for _row, rec in read_records(source, record_type)[0]]
    exported = [rec for _row, rec in read_records(target, record_type)[0]]
    def sort(x):
        return sorted(x, key=lambda r: repr(sorted(r.items())))
    mine = [r for r in exported if any(r == o for o in original)]
    assert sort(mine) == sort(original)


def test_export_filters_by_date_and_institution(loaded, server):
    work, out = loaded
    target = work / "visits.json"
    first = read_records(out["hypertension-follow-up"][0], "hypertension-follow-up")[0][0][1]
    result = jiayi("export", "--type", "hypertension-follow-up", "--server", server, "--output", str(target),
                   "--from", first["visit_date"], "--to", first["visit_date"],
                   "--institution", first["institution_code"])
    assert result.returncode == 0, result.stderr
    exported = [rec for _row, rec in read_records(target, "hypertension-follow-up")[0]]
    assert first in exported
    assert all(r["visit_date"] == first["visit_date"] and r["institution_code"] == first["institution_code"]
               for r in exported)


def _bad_file(tmp_path: Path, name: str, seed: int) -> tuple[Path, list[dict]]:
    rows = [dict(p) for p in synthetic.residents(4, seed=seed)]
    bad_id = rows[1]["id_number"][:17] + ("1" if rows[1]["id_number"][17] != "1" else "2")
    path = tmp_path / name
    writers.write(path, "resident", rows, "csv")
    text = path.read_text(encoding="utf-8-sig").replace(rows[1]["id_number"], bad_id)
    text = text.replace(rows[2]["birth_date"], "2019年2月30日")
    path.write_text(text, encoding="utf-8-sig")
    return path, rows


def test_bad_rows_are_reported_and_the_good_ones_kept(server, tmp_path):
    path, _rows = _bad_file(tmp_path, "messy.csv", 41)
    result = _import(path, "resident", server, "--batch-size", "10")
    assert "created 2, updated 0, unchanged 0, rejected 2" in result.stdout, result.stdout
    with open(f"{path}.errors.csv", encoding="utf-8-sig", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [(r["row"], r["field"]) for r in report] == [("3", "身份证号"), ("4", "出生日期")]
    assert all(r["file"] == str(path) and r["value"] and r["reason"] for r in report)
    assert "check character" in report[0]["reason"] and report[1]["value"] == "2019年2月30日"
    assert "身份证号" in result.stderr and "rejected 2" in result.stdout


def test_an_import_run_is_recorded_for_the_integration_monitor(server, tmp_path):
    """The run is an AuditEvent on the server (what the console's monitor lists): the form, the
    file's name, the counts and the refused rows' fields, but no cell value (no ID number)."""
    path, rows = _bad_file(tmp_path, "monitored.csv", 44)
    assert _import(path, "resident", server).returncode == 0
    found = requests.get(f"{server}/AuditEvent", params={"subtype": f"{FORM}|resident", "_sort": "-date",
                                                          "_count": "50"}, timeout=30).json()
    (event,) = [e["resource"] for e in found.get("entry", [])
                if e["resource"]["entity"][0]["what"]["identifier"]["value"] == "monitored.csv"]
    assert event["outcome"] == "4" and event["type"]["code"] == "110107"
    assert {d["type"]: d["valueString"] for d in event["entity"][0]["detail"]}["rejected"] == "2"
    assert event["outcomeDesc"].startswith("4 rows: 2 written, 2 refused; row 3 身份证号")
    assert "出生日期" in event["outcomeDesc"] and str(tmp_path) not in str(event)
    assert not any(r["id_number"] in str(event) or r["id_number"][:17] in str(event) for r in rows)


def test_rule_breaking_row_refused_by_the_server_does_not_sink_the_batch(loaded, server, tmp_path):
    """A follow-up of an unknown resident and one the server refuses sit beside good ones."""
    _work, out = loaded
    good = [rec for _row, rec in read_records(out["hypertension-follow-up"][0], "hypertension-follow-up")[0]]
    stranger = dict(good[0], id_number=make_id("990909", dt.date(1970, 1, 1), 3, "male"), record_no="99090900100100009",
                    visit_no="X-1")
    fresh = dict(good[1], visit_no="X-3", visit_date="2024-06-01")
    rows = [fresh, stranger]
    path = tmp_path / "visits.csv"
    writers.write(path, "hypertension-follow-up", rows, "csv")
    result = _import(path, "hypertension-follow-up", server)
    assert "created 1, updated 0, unchanged 0, rejected 1" in result.stdout, result.stdout
    report = Path(f"{path}.errors.csv").read_text(encoding="utf-8-sig")
    assert "Patient with 身份证号" in report and ",3," in report


def test_on_error_reject_writes_nothing(server, tmp_path):
    path, rows = _bad_file(tmp_path, "reject.csv", 42)
    rows_ok = rows[0]
    result = _import(path, "resident", server, "--on-error", "reject")
    assert result.returncode == 1
    assert "created 0, updated 0, unchanged 0, rejected 4" in result.stdout, result.stdout
    check = jiayi("export", "--type", "resident", "--server", server, "--output", str(tmp_path / "all.csv"))
    assert check.returncode == 0
    assert rows_ok["id_number"] not in (tmp_path / "all.csv").read_text(encoding="utf-8-sig")


def test_progress_bar_and_summary_on_the_terminal(server, tmp_path):
    people = synthetic.residents(5, seed=43)
    path = tmp_path / "progress.xlsx"
    writers.write(path, "resident", people, "xlsx")
    result = jiayi("import", str(path), "--type", "resident", "--server", server, "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    assert "resident" in result.stderr  # click's progress bar (a terminal also gets rows done, rate and ETA)
    assert "created 5, updated 0, unchanged 0, rejected 0" in result.stdout


def test_the_adapter_conceptmaps_are_served_for_translate(server):
    import requests

    response = requests.get(f"{server}/ConceptMap/$translate", params={
        "url": "https://jiayi.dev/fhir/ConceptMap/phs-follow-up-classification",
        "system": "https://jiayi.dev/fhir/CodeSystem/phs-follow-up-classification", "code": "2"}, timeout=30)
    assert response.status_code == 200, response.text
    params = {p["name"]: p for p in response.json()["parameter"]}
    assert params["result"]["valueBoolean"] is True
    concept = next(part["valueCoding"] for part in params["match"]["part"] if part["name"] == "concept")
    assert concept["code"] == "unsatisfactory"
    assert concept["system"] == "https://jiayi.dev/fhir/CodeSystem/follow-up-classification"


def test_contract_breaking_a_domain_rule_is_reported_not_forced(loaded, server, tmp_path):
    """The server's contract rules (fee split = package price, term 1–3 years) refuse a row; the
    adapter reports that row with the rule and keeps its neighbours."""
    people = synthetic.residents(6, seed=44)
    residents = tmp_path / "people.csv"
    writers.write(residents, "resident", people, "csv")
    assert _import(residents, "resident", server).returncode == 0
    rows = [r for r in synthetic.contracts(people) if "household_no" not in r]
    numbers = sorted({r["contract_no"] for r in rows})
    assert len(numbers) >= 3
    for r in rows:
        r["contract_no"] = "R" + r["contract_no"]
        if r["contract_no"] == "R" + numbers[0] and r["package"] == "pkg-basic":
            r["insurance"] = 60  # 60 + 30 + 20 ≠ 120
        if r["contract_no"] == "R" + numbers[1]:
            r["end"] = "2031-01-05"  # a five-year term
    path = tmp_path / "contracts.csv"
    writers.write(path, "contract", rows, "csv")
    result = _import(path, "contract", server)
    bad = [r for r in rows if r["contract_no"] in ("R" + numbers[0], "R" + numbers[1])]
    rejected, created = f"rejected {len(bad)}", f"created {len(rows) - len(bad)},"
    assert rejected in result.stdout and created in result.stdout, result.stdout
    report = Path(f"{path}.errors.csv").read_text(encoding="utf-8-sig")
    assert "jiayi-contract-fee-split" in report or "fee split" in report
    assert "1 to 3 years" in report


def test_an_interrupted_import_run_again_completes(server, tmp_path):
    """Kill ``jiayi import`` part-way (after some batches were committed), run it again: every row is
    there once, the first run's rows unchanged."""
    import os
    import signal
    import time

    import requests

    people = synthetic.residents(40, seed=45)
    for p in people:
        p.pop("household_no")
    path = tmp_path / "big.csv"
    writers.write(path, "resident", people, "csv")
    ids = ",".join(f"urn:oid:2.16.156.10011.1.3|{p['id_number']}" for p in people)

    def count() -> int:
        bundle = requests.post(f"{server}/Patient/_search", data={"identifier": ids, "_summary": "count"},
                               timeout=60).json()
        return bundle["total"]

    process = subprocess.Popen([sys.executable, "-m", "fhir_server.cli", "import", str(path), "--type", "resident",
                                "--server", server, "--quiet", "--batch-size", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count() == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    done = count()
    assert process.returncode == -signal.SIGKILL and 0 < done < 40  # really cut off part-way
    again = _import(path, "resident", server, "--batch-size", "7")
    assert again.returncode == 0, again.stderr
    assert "rejected 0" in again.stdout
    created = int(again.stdout.split("created ")[1].split(",")[0])
    unchanged = int(again.stdout.split("unchanged ")[1].split(",")[0])
    assert created + unchanged == 40 and unchanged >= done - 2  # the batch in flight may or may not have landed
    assert count() == 40


def test_a_changed_row_is_updated_the_others_unchanged(loaded, server, tmp_path):
    import requests

    _work, out = loaded
    for record_type, field, value in (("resident", "phone", "13800000000"), ("hypertension-follow-up", "sbp", 199)):
        rows = [rec for _row, rec in read_records(out[record_type][0], record_type)[0]]
        rows[0] = {**rows[0], field: value}
        path = tmp_path / f"changed-{record_type}.csv"
        writers.write(path, record_type, rows, "csv")
        result = _import(path, record_type, server)
        assert f"created 0, updated 1, unchanged {len(rows) - 1}, rejected 0" in result.stdout, result.stdout
    bp = requests.get(f"{server}/Observation", params={"code": "http://loinc.org|85354-9",
                                                        "component-value-quantity": "199", "_count": "5"},
                      timeout=30).json()
    assert bp.get("total", len(bp.get("entry", []))) >= 1


def test_a_real_export_with_other_headers_and_an_unknown_column(loaded, server, tmp_path):
    """联系电话 for 本人电话, 健康档案编号 for 档案编号 and a column the form does not have: the
    unknown one is reported once and ignored, every row is read as the form's own headers."""
    _work, out = loaded
    with out["resident"][0].open(encoding="gb18030", newline="") as handle:
        rows = list(csv.reader(handle))
    rename = {"本人电话": "联系电话", "档案编号": "健康档案编号"}
    header = [rename.get(h, h) for h in rows[0]] + ["微信号"]
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *[row + ["wx"] for row in rows[1:]]])
    result = _import(path, "resident", server)
    assert result.returncode == 0, result.stderr
    # every row found as the one imported before (another test may have changed one since)
    assert "rejected 0" in result.stdout and "created 0," in result.stdout, result.stdout
    assert result.stderr.count("column 微信号 ignored") == 1
    strict = _import(path, "resident", server, "--strict-columns")
    assert strict.returncode == 1 and f"rejected {len(rows) - 1}" in strict.stdout
    assert "not a column of 个人基本信息表" in strict.stderr


def test_a_follow_up_without_its_doctor_takes_the_family_doctor_of_the_contract(loaded, server, tmp_path):
    import requests

    _work, out = loaded
    first = next(rec for _row, rec in read_records(out["hypertension-follow-up"][0], "hypertension-follow-up")[0]
                 if rec["id_number"] == "990104196105070011")
    in_force = {k: v for k, v in first.items() if k not in ("doctor", "doctor_card", "visit_no")}
    in_force["visit_date"] = "2026-06-01"  # contract QY2026000000 runs 2026-01-06 .. 2027-01-05
    before = dict(in_force, visit_date="2025-06-01")  # no contract in force yet
    path = tmp_path / "no-doctor.csv"
    writers.write(path, "hypertension-follow-up", [in_force, before], "csv")
    result = _import(path, "hypertension-follow-up", server)
    assert "created 1" in result.stdout and "rejected 1" in result.stdout, result.stdout + result.stderr
    assert "随访医生 is required: the resident has no family-doctor contract in force on 2025-06-01" in result.stderr
    found = requests.post(f"{server}/Encounter/_search", data={"date": "2026-06-01", "_count": "10",
                                                               "_tag": "https://jiayi.dev/fhir/CodeSystem/"
                                                                       "import-derivation|participant-from-contract"},
                          timeout=30).json()
    (encounter,) = [e["resource"] for e in found.get("entry", [])]
    doctor = encounter["participant"][0]["individual"]
    assert doctor["reference"].startswith("Practitioner/") and doctor["display"] == "周明"
    again = _import(path, "hypertension-follow-up", server)
    assert "created 0" in again.stdout and "unchanged 1" in again.stdout, again.stdout


def test_parallel_bundles_write_the_same_as_one_at_a_time(server, tmp_path):
    """``--parallel 3``: several bundles in flight (residents with their households, then their
    follow-ups, a bad row among them); the counts and errors are those of a serial import, and
    a second parallel run changes nothing."""
    people = synthetic.residents(30, seed=46)
    path = tmp_path / "residents.csv"
    writers.write(path, "resident", people, "csv")
    first = _import(path, "resident", server, "--batch-size", "4", "--parallel", "3")
    assert first.returncode == 0, first.stderr
    assert "created 30, updated 0, unchanged 0, rejected 0" in first.stdout, first.stdout
    visits = synthetic.follow_ups(people[:12], 2, "hypertension-follow-up", seed=47)
    visits[5] = {**visits[5], "id_number": make_id("110101", dt.date(1960, 1, 1), 499, "male")}  # nobody's: refused
    follow_path = tmp_path / "visits.csv"
    writers.write(follow_path, "hypertension-follow-up", visits, "csv")
    result = _import(follow_path, "hypertension-follow-up", server, "--batch-size", "3", "--parallel", "4")
    assert result.returncode == 0, result.stderr
    assert f"created {len(visits) - 1}, updated 0, unchanged 0, rejected 1" in result.stdout, result.stdout
    again = _import(path, "resident", server, "--batch-size", "4", "--parallel", "3")
    assert "created 0, updated 0, unchanged 30, rejected 0" in again.stdout, again.stdout
