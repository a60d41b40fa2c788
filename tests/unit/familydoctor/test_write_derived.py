"""``UnitOfWork.write_derived``: the one way a rule or a domain service writes a resource of
its own — tagged, validated (base R4 and the claimed profiles), skipped and logged without
its content when invalid, or refused with ``refuse``; and the order of a write's hooks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from fhir_server.core.clock import counting_ids
from fhir_server.core.errors import Issue, Unprocessable
from fhir_server.core.jiayi_names import DERIVED_BY
from fhir_server.repository.base import Hooks
from fhir_server.repository.memory import MemoryRepository

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SECRET = "张三 110101195003041234"  # personal data that must never reach a log line


def _needs_requester(resource: dict) -> list[Issue]:
    if resource.get("resourceType") == "ServiceRequest" and "requester" not in resource:
        return [Issue("required", f"no requester for {resource.get('note')}", expression=("ServiceRequest.requester",))]
    return []


@pytest.fixture()
def repo():
    return MemoryRepository(clock=lambda: NOW, ids=counting_ids("x"), hooks=Hooks(validate=_needs_requester))


def _proposal(**extra) -> dict:
    return {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
            "subject": {"reference": "Patient/p"}, "note": [{"text": SECRET}], **extra}


def test_a_valid_derived_resource_is_written_with_its_reason(repo):
    with repo.unit_of_work(write=True) as uow:
        stored = uow.write_derived(_proposal(requester={"reference": "Practitioner/d"}), because="follow-up-proposal")
        assert stored is not None and stored.method == "POST"
        assert stored.content["meta"]["tag"] == [{"system": DERIVED_BY, "code": "follow-up-proposal"}]
        again = uow.write_derived({**stored.content, "priority": "asap"}, because="follow-up-schedule", previous=stored)
        assert again is not None and again.version == 2 and again.method == "PUT" and again.res_id == stored.res_id
        assert again.content["meta"]["tag"] == [{"system": DERIVED_BY, "code": "follow-up-schedule"}]


def test_an_invalid_one_is_not_written_and_the_log_names_no_content(repo, caplog):
    caplog.set_level(logging.WARNING)
    with repo.unit_of_work(write=True) as uow:
        assert uow.write_derived(_proposal(), because="follow-up-proposal") is None
        assert list(uow.scan("ServiceRequest")) == []
    assert "ServiceRequest.requester" in caplog.text and "follow-up-proposal" in caplog.text
    assert SECRET not in caplog.text and "张三" not in caplog.text


def test_invalid_base_r4_is_not_written_either(repo):
    with repo.unit_of_work(write=True) as uow:
        assert uow.write_derived({"resourceType": "Task", "status": "no-such-status"}, because="x") is None


def test_refuse_makes_it_a_422(repo):
    with pytest.raises(Unprocessable), repo.unit_of_work(write=True) as uow:
        uow.write_derived(_proposal(), because="apply", refuse=True)


def test_a_write_runs_validate_checks_store_then_derivations():
    seen: list[str] = []
    hooks = Hooks(validate=lambda resource: seen.append("validate") or [])
    repo = MemoryRepository(clock=lambda: NOW, ids=counting_ids("y"), hooks=hooks)
    hooks.before_write.append(lambda uow, event: seen.append(f"check:{uow.get(event.res_type, event.res_id)}"))
    hooks.after_write.append(lambda uow, event: seen.append(f"derive:{uow.get(event.res_type, event.res_id).version}"))
    with repo.unit_of_work(write=True) as uow:
        uow.save("POST", "Basic", "b", {"resourceType": "Basic", "code": {"text": "x"}}, None)
    assert seen == ["validate", "check:None", "derive:1"]
