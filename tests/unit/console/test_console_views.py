"""The console's view models over a fake FHIR client: what each screen makes of the resources
the API returns (issue 22)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import threading

import pytest

from fhir_server import console
from fhir_server.console.fhir_client import Answer
from fhir_server.console.signin import pkce_pair
from fhir_server.console.views import dashboard, desk, monitor, resident, search, worklist
from fhir_server.console.views.common import SD, mask_id, together

TODAY = dt.date(2026, 12, 1)


class FakeSource:
    """Answers searches by the first matching URL prefix; records what was written."""

    def __init__(self, searches: dict[str, list[dict]], reads: dict[str, dict] | None = None) -> None:
        self.searches = searches
        self.reads = reads or {}
        self.asked: list[str] = []
        self.max_ages: dict[str, int | None] = {}
        self.only_kept: dict[str, bool] = {}
        self.evaluating: set[str] = set()  # URLs the server answers 504 when asked only-if-cached
        self.written: list[tuple[str, str, dict]] = []

    def search(self, url: str) -> list[dict]:
        self.asked.append(url)
        return next((found for prefix, found in self.searches.items() if url.startswith(prefix)), [])

    def read(self, reference: str | None) -> dict | None:
        return self.reads.get(reference or "")

    def get(self, url: str, max_age: int | None = None, only_if_cached: bool = False) -> Answer:
        self.max_ages[url], self.only_kept[url] = max_age, only_if_cached
        if only_if_cached and url in self.evaluating:
            return Answer(504, {"resourceType": "OperationOutcome", "issue": []})
        found = self.reads.get(url)
        return Answer(200, found) if found else Answer(404, {"resourceType": "OperationOutcome", "issue": []})

    def put(self, url: str, body: dict) -> Answer:
        self.written.append(("PUT", url, body))
        return Answer(200, body)

    def post(self, url: str, body: dict) -> Answer:
        self.written.append(("POST", url, body))
        return Answer(201, {"resourceType": "Appointment", "id": "a1"})


def contract(cid: str, end: str, renews: str | None = None, start: str = "2026-01-01") -> dict:
    resource = {"resourceType": "Contract", "id": cid, "status": "executed", "applies": {"start": start, "end": end},
                "subject": [{"reference": f"Patient/p-{cid}", "display": f"居民{cid}"}],
                "term": [{"text": "基础签约服务包"}]}
    if renews:
        resource["extension"] = [{"url": SD + "jiayi-renews", "valueReference": {"reference": f"Contract/{renews}"}}]
    return resource


def test_renewals_leave_out_the_renewed_contracts_and_the_renewals_themselves():
    source = FakeSource({"Contract?": [contract("c1", "2026-12-20"), contract("c2", "2026-11-30"),
                                       contract("c3", "2026-12-25"),
                                       contract("c4", "2027-12-25", renews="c3", start="2026-12-26")]})
    rows = worklist.renewals(source, TODAY, ["CareTeam/t1"])
    assert [(r.target, r.action, r.urgent) for r in rows] == [("c1", "renew", False), ("c2", "renew", True)]
    assert rows[0].patient_id == "p-c1" and rows[0].patient == "居民c1" and rows[0].when == "2026-12-20"
    assert "care-team=CareTeam/t1" in source.asked[0] and "expiry=le2026-12-31" in source.asked[0]


def test_a_doctor_without_a_team_has_no_renewals_and_others_are_not_filtered():
    assert worklist.renewals(FakeSource({"Contract?": [contract("c1", "2026-12-20")]}), TODAY, []) == []
    source = FakeSource({"Contract?": [contract("c1", "2026-12-20")]})
    assert len(worklist.renewals(source, TODAY, None)) == 1
    assert "care-team" not in source.asked[0]


def test_proposals_put_the_urgent_first_and_ask_for_the_doctors_own():
    tasks = [{"resourceType": "Task", "id": "t1", "priority": "routine", "for": {"reference": "Patient/a"},
              "focus": {"reference": "ServiceRequest/s1"}, "authoredOn": "2026-11-01T08:00:00+08:00"},
             {"resourceType": "Task", "id": "t2", "priority": "urgent", "for": {"reference": "Patient/b"},
              "description": "转诊建议", "focus": {"reference": "ServiceRequest/s2"}}]
    source = FakeSource({"Task?status=draft": tasks})
    rows = worklist.proposals(source, "prac-1")
    assert [r.patient_id for r in rows] == ["b", "a"]
    assert "owner=Practitioner/prac-1" in source.asked[0]


def test_the_worklist_has_every_section():
    model = worklist.build(FakeSource({}), "prac-1", TODAY)
    assert list(model.sections) == ["overdue", "upcoming", "renewals", "proposals", "returns", "two_card"]
    assert model.count("renewals") == 0


def test_a_screens_searches_asked_together_give_the_screen_asked_one_by_one():
    tasks = [{"resourceType": "Task", "id": "t1", "for": {"reference": "Patient/a"}, "status": "draft"}]
    contracts = [contract("c1", "2026-12-20")]
    searches = {"CareTeam?": [{"resourceType": "CareTeam", "id": "team-1"}], "Task?status=draft": tasks,
                "Contract?": contracts}
    one_by_one, at_once = FakeSource(searches), FakeSource(searches)
    at_once.at_once = True
    assert worklist.build(at_once, "prac-1", TODAY) == worklist.build(one_by_one, "prac-1", TODAY)
    assert sorted(at_once.asked) == sorted(one_by_one.asked) and len(at_once.asked) == 7
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert desk.build(at_once, now, "prac-1") == desk.build(one_by_one, now, "prac-1")


def test_together_runs_the_parts_at_once_only_when_the_source_allows_it():
    def where() -> str:
        return threading.current_thread().name

    assert together(FakeSource({}), where, where) == [threading.current_thread().name] * 2
    source = FakeSource({})
    source.at_once = True
    started = threading.Barrier(3, timeout=5)  # the three parts wait for one another: they run at once

    def meet(value: int) -> int:
        started.wait()
        return value

    assert together(source, lambda: meet(1), lambda: meet(2), lambda: meet(3)) == [1, 2, 3]
    with pytest.raises(ZeroDivisionError):
        together(source, lambda: 1, lambda: 1 / 0)


def test_overdue_follow_ups_come_from_the_activity_due_search():
    plan = {"resourceType": "CarePlan", "id": "cp", "title": "高血压随访", "subject": {"reference": "Patient/a"},
            "activity": [{"detail": {"status": "scheduled", "scheduledPeriod": {"end": "2026-11-20"}}},
                         {"detail": {"status": "completed", "scheduledPeriod": {"end": "2026-08-20"}}}]}
    plan["activity"].append({"detail": {"status": "scheduled", "scheduledPeriod": {"end": "2026-12-10"}}})
    source = FakeSource({"CarePlan?": [plan, {"resourceType": "Patient", "id": "a", "name": [{"text": "张三"}]}]})
    rows = worklist.follow_ups(source, "activity-due=lt2026-12-01", TODAY, ["CareTeam/t1"])
    assert [(r.patient_id, r.patient, r.what, r.when, r.urgent) for r in rows] == [
        ("a", "张三", "高血压随访", "2026-11-20", True)]
    assert source.asked[0].startswith("CarePlan?status=active&activity-due=lt2026-12-01&care-team=CareTeam/t1")
    assert "_include=CarePlan:subject" in source.asked[0]
    upcoming = worklist.follow_ups(source, "activity-due=ge2026-12-01", TODAY, None, dt.date(2026, 12, 15))
    assert [(r.when, r.urgent) for r in upcoming] == [("2026-12-10", False)]
    # the two bounds met by two activities (one overdue, one later than the window): nothing due soon
    assert worklist.follow_ups(source, "activity-due=ge2026-12-01", TODAY, None, dt.date(2026, 12, 5)) == []
    assert worklist.follow_ups(source, "activity-due=ge2026-12-01", TODAY, []) == []


@pytest.mark.parametrize(("number", "shown"), [("110101199003071234", "110101********1234"),
                                                ("1234567", "*******"), ("11010119900307", "110101****0307")])
def test_national_identifiers_are_masked(number, shown):
    assert mask_id(number) == shown


def test_the_resident_view_masks_identifiers_unless_asked_and_draws_from_the_observations():
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"text": "王芳"}], "gender": "female",
               "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003071234"}]}
    panel, fpg = {"coding": [{"code": "85354-9"}]}, {"coding": [{"code": "1558-6"}]}
    bp = [{"code": panel, "effectiveDateTime": "2026-10-01T09:00:00+08:00", "component": [
        {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 150}},
        {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 95}}]},
        {"code": panel, "effectiveDateTime": "2026-07-01T09:00:00+08:00", "component": [
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 135}}]}]
    glucose = [{"code": fpg, "effectiveDateTime": "2026-09-01", "valueQuantity": {"value": 7.2}},
               {"code": fpg, "effectiveDateTime": "2026-09-02"}]
    team = {"resourceType": "CareTeam", "id": "t1", "name": "张医生团队", "participant": []}
    contract = {"resourceType": "Contract", "id": "c1", "status": "executed", "extension": [
        {"url": SD + "jiayi-contract-care-team", "valueReference": {"reference": "CareTeam/t1"}}]}
    source = FakeSource({"Observation?subject=Patient/p1&code=http://loinc.org|85354-9,http://loinc.org|1558-6":
                         bp + glucose, "Contract?subject=Patient/p1&status=executed": [contract, team]},
                        {"Patient/p1": patient})
    model = resident.build(source, "p1", TODAY)
    assert model is not None
    assert model.name == "王芳" and model.gender == "女"
    assert model.identifiers == [("居民身份证", "110101********1234")]
    assert model.bp == [("2026-07-01", 135, None), ("2026-10-01", 150, 95)]
    assert model.glucose == [("2026-09-01", 7.2)]
    assert model.team["name"] == "张医生团队" and "_include=Contract:care-team" in source.asked[0]
    assert resident.build(source, "p1", TODAY, show_id=True).identifiers == [("居民身份证", "110101199003071234")]
    assert resident.build(source, "unknown", TODAY) is None  # not found or out of reach: the API decides


def test_fulfilment_rows_from_the_operation_answer():
    answer = {"resourceType": "Parameters", "parameter": [{"name": "item", "part": [
        {"name": "code", "valueCoding": {"system": "s", "code": "home-visit", "display": "上门服务"}},
        {"name": "due", "valueInteger": 4}, {"name": "delivered", "valueInteger": 1}]}]}
    rows = resident.fulfilment(FakeSource({}, {"Contract/c1/$fulfilment": answer}), "c1")
    assert rows == [{"item": "上门服务", "due": 4, "delivered": 1, "percent": 25}]


def test_referrals_carry_their_task_history():
    referral = {"resourceType": "ServiceRequest", "id": "s1", "status": "active", "intent": "order",
                "code": {"text": "上转转诊"}, "performer": [{"reference": "Organization/h", "display": "区医院"}],
                "extension": [{"url": SD + "jiayi-referral-direction", "valueCoding": {"display": "上转"}}]}
    task = {"resourceType": "Task", "id": "t1", "focus": {"reference": "ServiceRequest/s1"}}
    versions = [{"status": "accepted", "meta": {"lastUpdated": "2026-11-02T10:00:00Z"}},
                {"status": "requested", "meta": {"lastUpdated": "2026-11-01T10:00:00Z"}}]
    source = FakeSource({"Task?patient=": [task], "ServiceRequest?subject=": [referral], "Task/t1/_history": versions})
    [row] = resident.referrals(source, "Patient/p1")
    assert row["direction"] == "上转" and row["performer"] == "区医院"
    assert [h["status"] for h in row["history"]] == ["requested", "accepted"]


@pytest.mark.parametrize(("q", "url"), [
    ("110101199003071234", "Patient?identifier=urn%3Aoid%3A2.16.156.10011.1.3%7C110101199003071234&_count=20"),
    ("11010119900307123x", "Patient?identifier=urn%3Aoid%3A2.16.156.10011.1.3%7C11010119900307123X&_count=20"),
    ("zhangsan", "Patient?name:pinyin=zhangsan&_count=20"),
    ("zs", "Patient?name:pinyin=zs&_count=20"),
    ("张三", "Patient?name=%E5%BC%A0%E4%B8%89&_count=20"),
])
def test_search_by_id_number_pinyin_initials_or_name(q, url):
    assert search.query_for(q) == url


def test_the_desk_groups_by_task_status_green_channel_first():
    def referral(rid, green, priority="routine"):
        return {"resourceType": "ServiceRequest", "id": rid, "priority": priority,
                "subject": {"reference": "Patient/x"}, "authoredOn": "2026-11-0" + rid[-1],
                "extension": [{"url": SD + "jiayi-green-channel", "valueBoolean": green}]}

    def task(tid, rid, status):
        return {"resourceType": "Task", "id": tid, "status": status, "focus": {"reference": f"ServiceRequest/{rid}"}}

    found = [referral("s1", False), referral("s2", True), referral("s3", False, "urgent"), referral("s4", False),
             task("t1", "s1", "requested"), task("t2", "s2", "requested"), task("t3", "s3", "requested"),
             task("t4", "s4", "completed")]
    model = desk.build(FakeSource({"ServiceRequest?": found}), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert [r.task_id for r in model.by_status["requested"]] == ["t2", "t3", "t1"]
    assert all(not rows for status, rows in model.by_status.items() if status != "requested")


def test_desk_actions_are_task_updates_and_book():
    task = {"resourceType": "Task", "id": "t1", "status": "requested", "meta": {"versionId": "3"},
            "focus": {"reference": "ServiceRequest/s1"}}
    source = FakeSource({}, {"Task/t1": task})
    assert desk.act(source, "t1", "reject", " 床位已满 ").ok
    method, url, body = source.written[-1]
    assert (method, url, body["status"], body["statusReason"]) == ("PUT", "Task/t1", "rejected", {"text": "床位已满"})
    assert "meta" not in body and task["status"] == "requested"  # the read resource is not changed in place
    desk.act(source, "t1", "accept", "")
    assert source.written[-1][2]["status"] == "accepted"
    desk.act(source, "t1", "schedule", "")
    assert source.written[-1][:2] == ("POST", "ServiceRequest/s1/$book")
    assert desk.act(source, "t1", "delete", "").status == 404
    assert desk.act(source, "missing", "accept", "").status == 404


def test_dashboard_periods_and_stratifiers():
    assert dashboard.preset_period("quarter", TODAY) == (dt.date(2026, 10, 1), TODAY)
    assert dashboard.preset_period("last-quarter", TODAY) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert dashboard.preset_period("last-quarter", dt.date(2026, 2, 1)) == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert dashboard.preset_period("last-year", TODAY) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    query = dashboard.Query.from_args({"start": "2026-06-30", "end": "2026-01-01", "stratifier": "team"}, TODAY)
    assert (query.start, query.end, query.stratifier) == (dt.date(2026, 1, 1), dt.date(2026, 6, 30), "team")
    assert (query.previous().start, query.previous().end) == (dt.date(2025, 7, 4), dt.date(2025, 12, 31))
    quarter = dashboard.Query.from_args({"preset": "quarter"}, TODAY).previous()
    assert (quarter.start, quarter.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    year = dashboard.Query.from_args({"preset": "last-year"}, TODAY).previous()
    assert (year.start, year.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    fallback = dashboard.Query.from_args({"start": "bad", "stratifier": "nonsense"}, TODAY)
    assert (fallback.start, fallback.stratifier, fallback.preset) == (dt.date(2026, 1, 1), "institution", "year")


def population(code: str, count: int) -> dict:
    return {"code": {"coding": [{"code": code}]}, "count": count}


def test_a_measure_card_reads_the_report_and_the_chosen_stratifier():
    measure = {"resourceType": "Measure", "id": "jiayi-coverage", "title": "签约覆盖率",
               "scoring": {"coding": [{"code": "proportion"}]}}
    report = {"group": [{"population": [population("initial-population", 10), population("denominator", 10),
                                        population("numerator", 4)], "measureScore": {"value": 0.4},
                         "stratifier": [
                             {"code": [{"text": "institution"}], "stratum": [
                                 {"value": {"text": "中心A"}, "population": [population("denominator", 6),
                                                                           population("numerator", 3)],
                                  "measureScore": {"value": 0.5}}]},
                             {"code": [{"text": "team"}], "stratum": []}]}]}
    card = dashboard.card(measure, report, "institution")
    assert (card.numerator, card.denominator, card.shown) == (4, 10, "40.0%")
    assert card.rows == [dashboard.Stratum("中心A", 3, 6, 0.5)]
    assert dashboard.card(measure, report, "team").rows == []


def test_a_card_compares_with_the_period_before():
    measure = {"resourceType": "Measure", "id": "m-trend", "scoring": {"coding": [{"code": "proportion"}]}}
    now = {"group": [{"population": [population("numerator", 5)], "measureScore": {"value": 0.5}}]}
    before = {"group": [{"population": [population("numerator", 4)], "measureScore": {"value": 0.4}}]}
    url = "Measure/m-trend/$evaluate-measure?periodStart={}&periodEnd={}&reportType=summary"
    source = FakeSource({}, {"Measure/m-trend": measure, url.format("2026-10-01", "2026-12-01"): now,
                             url.format("2026-07-01", "2026-09-30"): before})
    query = dashboard.Query.from_args({"preset": "quarter"}, TODAY)
    assert dashboard.one_card(source, "m-trend", query).previous is None  # the first view does not wait for it
    card = dashboard.with_previous(source, "m-trend", query)
    assert (card.shown, card.previous_shown, card.trend) == ("50.0%", "40.0%", "↑")
    # a card accepts the server's kept summary as old as its own cache, and only a kept one
    # (familydoctor/measures/kept.py): the page's request never waits for an evaluation
    assert source.max_ages[url.format("2026-10-01", "2026-12-01")] == dashboard.CACHE_SECONDS
    assert source.only_kept[url.format("2026-10-01", "2026-12-01")] is True


def test_a_card_the_server_is_evaluating_is_not_yet_and_not_cached():
    measure = {"resourceType": "Measure", "id": "m-new", "scoring": {"coding": [{"code": "proportion"}]}}
    url = "Measure/m-new/$evaluate-measure?periodStart=2026-10-01&periodEnd=2026-12-01&reportType=summary"
    report = {"group": [{"population": [population("numerator", 5)], "measureScore": {"value": 0.5}}]}
    source = FakeSource({}, {"Measure/m-new": measure, url: report})
    source.evaluating.add(url)
    query = dashboard.Query.from_args({"preset": "quarter"}, TODAY)
    dashboard._cache.clear()
    with pytest.raises(dashboard.NotYet):
        dashboard.one_card(source, "m-new", query)
    source.evaluating.clear()  # evaluated: the next ask finds it (the 504 was not cached)
    assert dashboard.one_card(source, "m-new", query).shown == "50.0%"
    dashboard._cache.clear()
    source.evaluating.add(url)
    source.searches["Measure?"] = [measure]
    assert [c.id for c in dashboard.build(source, query).cards] == ["m-new"]  # the export waits
    assert source.only_kept[url] is False
    dashboard._cache.clear()


def test_the_drill_down_lists_the_numerators_subjects():
    report = {"contained": [{"id": "numerator", "entry": [{"item": {"reference": "Patient/a"}}]},
                            {"id": "denominator", "entry": [{"item": {"reference": "Patient/a"}},
                                                            {"item": {"reference": "Patient/b"}}]}]}
    query = dashboard.Query(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    source = FakeSource({}, {"Measure/m-drill/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-03-31"
                             "&reportType=subject-list": report})
    assert dashboard.subjects(source, query, "m-drill") == ["Patient/a"]
    assert dashboard.subjects(source, query, "") == []


def test_the_drill_down_names_a_page_of_residents_in_one_search():
    source = FakeSource({"Patient?_id=p0,": [{"resourceType": "Patient", "id": "p1", "name": [{"text": "李四"}]}]})
    names = dashboard.subject_names(source, ["Group/g"] + [f"Patient/p{i}" for i in range(99)])
    assert names == {"Patient/p1": "李四"}
    assert len(source.asked) == 1 and source.asked[0].endswith(",p98&_elements=name&_count=100")
    assert dashboard.subject_names(source, ["Group/g"]) == {} and len(source.asked) == 1


def test_pkce_challenge_is_the_s256_of_the_verifier():
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce_pair()[0] != verifier


def test_the_desk_shows_the_reserved_slots_of_the_users_organization_only():
    source = FakeSource({
        "PractitionerRole?practitioner=": [{"id": "r1", "organization": {"reference": "Organization/h1"}}],
        "PractitionerRole?organization=": [{"id": "r1"}, {"id": "r2"}],
        "Schedule?actor=": [{"resourceType": "Schedule", "id": "s1", "actor": [{"display": "心内科"}]}],
        "Slot?": [{"resourceType": "Slot", "id": "a", "start": "2026-12-08T08:00:00+08:00", "status": "free",
                   "schedule": {"reference": "Schedule/s1"},
                   "extension": [{"url": SD + "jiayi-reserved-for-family-doctors", "valueBoolean": True}]},
                  {"resourceType": "Slot", "id": "b", "start": "2026-12-08T08:30:00+08:00", "status": "free",
                   "schedule": {"reference": "Schedule/s1"}}]})
    rows, _ = desk.slots(source, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "p1")
    assert [(r["id"], r["schedule"], r["start"]) for r in rows] == [("a", "心内科", "2026-12-08 08:00")]
    assert any(u.startswith("Schedule?actor=Organization/h1,PractitionerRole/r1,PractitionerRole/r2")
               for u in source.asked)
    assert any(u.startswith("Slot?schedule=Schedule/s1&start=ge2026-12-01T00:00:00Z") for u in source.asked)
    assert desk.slots(FakeSource({}), dt.datetime(2026, 12, 1, tzinfo=dt.UTC), None) == ([], [])


def test_strata_that_are_references_are_shown_by_name():
    source = FakeSource({}, {"Organization/o-name-1": {"name": "和平街道社区卫生服务中心"}})
    assert dashboard.stratum_name(source, "Organization/o-name-1") == "和平街道社区卫生服务中心"
    assert dashboard.stratum_name(source, "CareTeam/unknown-team") == "CareTeam/unknown-team"
    assert dashboard.stratum_name(source, "hypertension") == "hypertension"


def test_the_monitor_lists_the_hl7_messages_with_their_acks():
    from hl7v2_messages import adt_a04

    from adapters.hl7v2 import er7
    from adapters.hl7v2.message_audit import message_event

    msg = er7.parse(adt_a04("CHC-1"))
    when = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    accepted = message_event(msg, "AA", observer="JIAYI|JIAYI", written=["Patient/p1", "Encounter/e1"], recorded=when)
    refused = message_event(er7.parse(adt_a04("CHC-2")), "AE", observer="JIAYI|JIAYI", detail="PID-7: not a date",
                            recorded=when)
    source = FakeSource({"AuditEvent?type=": [refused, accepted]})
    model = monitor.build(source)
    assert any(url.startswith(monitor.HL7_SEARCH) for url in source.asked)
    first, second = model.hl7
    assert (first["type"], first["peer"], first["control_id"], first["ack"], first["ok"]) == (
        "ADT^A04", "CHCEHR|NINGHE-CHC", "CHC-2", "AE", False)
    assert first["detail"] == "PID-7: not a date" and first["written"] == []
    assert (second["ack"], second["ok"], second["when"], second["inbound"]) == ("AA", True, "2026-12-01 09:30:00", True)
    assert second["written"] == [{"reference": "Patient/p1", "patient": "p1"},
                                 {"reference": "Encounter/e1", "patient": None}]


def test_the_outbound_queue_keeps_each_message_s_latest_record_pending_or_refused():
    from hl7v2_messages import adt_a04

    from adapters.hl7v2 import er7
    from adapters.hl7v2.message_audit import message_event

    def event(control: str, code: str, status: str, attempts: int, minute: int) -> dict:
        return message_event(er7.parse(adt_a04(control)), code, observer="JIAYI", inbound=False, detail="down",
                             queue=(status, attempts), recorded=dt.datetime(2026, 12, 1, 9, minute, tzinfo=dt.UTC))

    newest_first = [event("C1", "AA", "sent", 3, 9), event("C2", "", "pending", 2, 8), event("C1", "", "pending", 2, 7),
                    event("C2", "", "pending", 1, 6), event("C3", "AR", "refused", 1, 5)]
    rows = monitor.outbound_queue(newest_first)
    assert [(r["control_id"], r["status"], r["attempts"], r["ack"]) for r in rows] == [
        ("C2", "pending", "2", ""), ("C3", "refused", "1", "AR")]


def test_the_templates_take_their_words_from_i18n_so_english_is_complete():
    """Chinese first, English switchable: no Chinese text in a template but the brand, the
    skip link's own zh/en pair and the demo-only sign-in picker."""
    from pathlib import Path

    from fhir_server.console import i18n

    cjk = re.compile(r"[\u4e00-\u9fff]")
    folder = Path(console.__file__).parent / "templates" / "console"
    for template in folder.glob("*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            allowed = "家医 Jiayi" in line or "g.lang == 'zh'" in line or template.name == "dev_login.html"
            assert allowed or not cjk.search(line), f"{template.name}:{number}: {line.strip()[:80]}"
    zh, en = i18n.words("zh"), i18n.words("en")
    assert zh.keys() == en.keys() and not [k for k, v in en.items() if cjk.search(v) and k != "language"]


def test_the_monitor_lists_writes_and_failures_each_from_its_own_search():
    write = {"resourceType": "AuditEvent", "recorded": "2026-12-01T09:00:00Z", "action": "C", "outcome": "0",
             "type": {"code": "rest", "display": "RESTful Operation"}, "agent": [{"who": {"display": "导入程序"}}]}
    refused = {**write, "action": "E", "outcome": "8", "outcomeDesc": "403 forbidden"}
    source = FakeSource({monitor.WRITES_SEARCH: [write], monitor.FAILURES_SEARCH: [refused]})
    model = monitor.build(source)
    assert [(e["who"], e["outcome"]) for e in model.events] == [("导入程序", "成功")]
    assert [(e["outcome"], e["detail"]) for e in model.failures] == [("严重错误", "403 forbidden")]


def test_the_monitor_lists_import_runs_with_their_refused_rows():
    from adapters.publichealth.import_audit import FORM, import_event
    from adapters.publichealth.importer import ImportResult, RowError

    result = ImportResult("exports/residents.csv", "resident", rows=4, created=1, updated=1, rejected=2,
                          errors=[RowError("residents.csv", 3, "出生日期", "x", "出生日期 must be a date; got 'x'")])
    source = FakeSource({monitor.IMPORTS_SEARCH: [import_event(result)]})
    (row,) = monitor.build(source).imports
    assert monitor.FORM == FORM
    assert (row["form"], row["file"], row["rows"], row["written"], row["rejected"], row["ok"]) == (
        "个人基本信息表", "residents.csv", "4", 2, "2", False)
    assert row["outcome"] == "轻微错误" and "row 3 出生日期: 出生日期 must be a date" in row["detail"]
