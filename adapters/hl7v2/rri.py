"""RRI^I12: the referral Task's progress (a FHIRPath Patch), and the downward return referral."""

from __future__ import annotations

from urllib.parse import quote

from . import datatypes as dt
from .conditions import add_condition
from .conversion import OWN_NAMESPACE, Conversion, criteria
from .errors import REQUIRED_FIELD_MISSING, Location
from .parties import facility_org
from .patient import add_patient
from .referral import message_providers, notes_of, referral_direction, referral_task, service_request
from .results import add_results, results
from .tables import table


def rri_i12(conv: Conversion) -> None:
    """RRI^I12: the referral (RF1-6) moves on; RF1-11 with it names the downward return referral."""
    msg = conv.msg
    rf1 = msg.first("RF1")
    original = dt.first(rf1, 6) if rf1 is not None else None
    if rf1 is None or original is None or not original.c(1):
        raise conv.fail(REQUIRED_FIELD_MISSING, "RF1-6 (originating referral identifier) names the referral "
                        "this response is about", Location("RF1", 1, 6))
    if original.c(2).upper() == OWN_NAMESPACE and not original.c(3):
        sr_criteria = f"ServiceRequest?_id={quote(original.c(1), safe='')}"
        task_criteria = f"Task?focus={quote('ServiceRequest/' + original.c(1), safe='')}"
    else:
        identifier = dt.ei(original, conv.facility) or {}
        sr_criteria, task_criteria = criteria("ServiceRequest", identifier), criteria("Task", identifier)
    status_code = rf1.get(1)
    ret = dt.first(rf1, 11)
    returning = ret is not None and ret.c(1)
    status = table("referral-status").code(status_code)
    if status is None:
        if status_code:
            raise conv.fail("103", f"referral status {status_code!r} is not in table 0283 "
                            f"(A, P, R, E) nor a Jiayi local code (RC, IP, CM, CA)", rf1.location(1))
        status = "completed" if returning else None
    add_patient(conv, msg.first("PID"), update=False)
    operations: list[dict] = []

    def op(kind: str, path: str, name: str | None = None, **value) -> None:
        parts = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
        if name:
            parts.append({"name": "name", "valueString": name})
        for key, val in value.items():
            if key == "parts":
                parts.append({"name": "value", "part": val})
            else:
                parts.append({"name": "value", key: val})
        operations.append({"name": "operation", "part": parts})

    if status:
        op("replace", "Task.status", valueCode=status)
    reason_text = "; ".join(x for x in (rf1.get(10, 2) or rf1.get(10, 1),
                                        *[n["text"] for n in notes_of(conv)]) if x)
    if status == "rejected" and not reason_text:
        reason_text = "接收方拒绝转诊（RRI^I12 未说明理由）"
    if status in ("rejected", "failed", "cancelled") and reason_text:
        op("delete", "Task.statusReason")
        op("add", "Task", "statusReason", valueCodeableConcept={"text": reason_text})
    if returning:
        providers = message_providers(conv)
        referring = (providers.get("RP") or [(None, None)])[0]
        referred = (providers.get("RT") or [(None, None)])[0]
        requester_org = referring[1] or facility_org(conv, msg.sending_facility or msg.sending_application)
        owner = referred[1] or facility_org(conv, msg.receiving_facility or msg.receiving_application)
        requester = referring[0] if referring[0] and "reference" in referring[0] else requester_org
        conditions = [c for c in (add_condition(conv, dg1) for dg1 in msg.all("DG1")) if c]
        supporting = add_results(conv, results(conv, msg.segments), with_reports=False)
        ids = [i for i in [dt.ei(ret, conv.facility)] if i]
        down_url, down = service_request(conv, rf1, ids, referral_direction(None, "downward"), requester,
                                   [p for p in (owner, referred[0]) if p and "reference" in p], conditions,
                                   supporting, notes_of(conv), [{"reference": sr_criteria}], "return-referral")
        down["code"] = {"text": "下转转诊 (回转)"}
        task_url = referral_task(conv, down_url, ids, owner, requester, down.get("authoredOn"), "return-task",
                         down.get("priority"))
        conv.tasks.append({"fullUrl": task_url, "status": "requested", "sender": msg.sender})
        op("add", "Task", "output", parts=[
            {"name": "type", "valueCodeableConcept": {"text": "回转单"}},
            {"name": "value", "valueReference": {"reference": down_url}}])
    if not operations:
        raise conv.fail(REQUIRED_FIELD_MISSING, "RF1-1 (referral status) or RF1-11 (return referral) is needed",
                        rf1.location(1))
    conv.tags[conv.full_url("task-progress")] = "task-progress"
    conv.entries.append({"fullUrl": conv.full_url("task-progress"),
                         "resource": {"resourceType": "Parameters", "parameter": operations},
                         "request": {"method": "PATCH", "url": task_criteria}})
    conv.tasks.append({"criteria": task_criteria, "status": status, "sender": msg.sender})
    sr_status = {"completed": "completed", "rejected": "revoked", "cancelled": "revoked"}.get(status or "")
    if sr_status:
        conv.tags[conv.full_url("referral-status")] = "referral-status"
        conv.entries.append({"fullUrl": conv.full_url("referral-status"),
                             "resource": {"resourceType": "Parameters", "parameter": [
                                 {"name": "operation", "part": [
                                     {"name": "type", "valueCode": "replace"},
                                     {"name": "path", "valueString": "ServiceRequest.status"},
                                     {"name": "value", "valueCode": sr_status}]}]},
                             "request": {"method": "PATCH", "url": sr_criteria}})
