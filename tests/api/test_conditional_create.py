"""Conditional create (R4 http §ccreate) under duplicates and races (issue 18): one condition,
one resource, whichever alias of the identifier system names it."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta

from fhir_server.core.national_ids import birth_date_from_id, make_id
from fhir_server.interactions.conditional import lock_key

ID_CARD = "urn:oid:2.16.156.10011.1.3"
ID_CARD_ALIAS = "urn:oid:2.16.840.1.113883.2.23.1.19.1"  # HL7 China (SPEC Appendix A)


def _resident(number: str, system: str = ID_CARD) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": system, "value": number}],
            "name": [{"text": "王五", "family": "王", "given": ["五"]}], "gender": "male",
            "birthDate": birth_date_from_id(number).isoformat()}


def _number() -> str:
    born = date(1940, 1, 1) + timedelta(days=random.randint(0, 18000))
    return make_id("110101", born, random.randint(0, 499), "male")


def _count(client, number: str) -> int:
    return client.get(f"/fhir/Patient?identifier={ID_CARD}|{number}&_total=accurate").get_json()["total"]


def test_lock_key_is_the_canonical_criteria():
    number = _number()
    a = lock_key("Patient", f"identifier={ID_CARD}|{number}&gender=male")
    b = lock_key("Patient", f"gender=male&identifier={ID_CARD_ALIAS}|{number}")
    assert a == b
    assert a != lock_key("Patient", f"identifier={ID_CARD}|{_number()}&gender=male")


def test_two_entries_with_one_condition_create_one_resource(client):
    number = _number()
    entries = [{"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": _resident(number, system),
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={system}|{number}"}}
               for i, system in enumerate([ID_CARD, ID_CARD_ALIAS])]
    response = client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                           content_type="application/fhir+json")
    assert response.status_code == 200, response.get_data(as_text=True)
    first, second = (e["response"] for e in response.get_json()["entry"])
    assert first["status"].startswith("201") and second["status"].startswith("200")
    assert first["location"] == second["location"]
    assert _count(client, number) == 1


def test_concurrent_creates_naming_both_aliases_make_one_resource(app):
    number = _number()
    statuses: list[int] = []

    def create(system: str) -> None:
        response = app.test_client().post("/fhir/Patient", json=_resident(number, system),
                                          headers={"If-None-Exist": f"identifier={system}|{number}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create, args=([ID_CARD, ID_CARD_ALIAS][i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201], statuses
    assert _count(app.test_client(), number) == 1
