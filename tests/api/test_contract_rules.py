"""Family-doctor contract rules (SPEC §4) on every write path, on SQLite and PostgreSQL:
each rule's success and its refusal (409 for a conflict with existing data, 422 for a
contract that itself breaks the rule), with the rule named in the OperationOutcome."""

from __future__ import annotations

import pytest
from contract_data import JSON, n, participant, post, rules, world


def _create(client, contract):
    return post(client, "Contract", contract)


def test_a_valid_contract_is_accepted(client, unique):
    w = world(client, unique)
    response = _create(client, w.contract())
    assert response.status_code == 201, response.get_json()


def test_one_contract_in_force_per_resident(client, unique):
    w = world(client, unique)
    first = _create(client, w.contract()).get_json()["id"]
    response = _create(client, w.contract(start="2026-06-01", end="2027-05-31", team=w.other_team))
    assert response.status_code == 409
    outcome = response.get_json()
    assert rules(outcome) == ["jiayi-contract-one-in-force"]
    issue = outcome["issue"][0]
    assert issue["code"] == "business-rule" and f"Contract/{first}" in issue["diagnostics"]
    assert issue["expression"] == ["Contract.subject[0]"]
    found = client.get(f"/fhir/Contract?patient=Patient/{w.head}&_total=accurate").get_json()
    assert found["total"] == 1


def test_the_next_term_and_applications_do_not_conflict(client, unique):
    w = world(client, unique)
    assert _create(client, w.contract()).status_code == 201
    assert _create(client, w.contract(start="2027-01-01", end="2027-12-31")).status_code == 201
    assert _create(client, w.contract(status="offered")).status_code == 201  # an application is not in force


def test_a_terminated_contract_frees_the_resident(client, unique):
    w = world(client, unique)
    first = w.contract(status="terminated", cid=f"c-{unique}")
    assert client.put(f"/fhir/Contract/c-{unique}", json=first, headers=JSON).status_code == 201
    assert _create(client, w.contract()).status_code == 201


def test_update_of_the_contract_in_force_is_not_a_conflict_with_itself(client, unique):
    w = world(client, unique)
    contract = w.contract(cid=f"c-{unique}")
    assert client.put(f"/fhir/Contract/c-{unique}", json=contract, headers=JSON).status_code == 201
    contract["issued"] = "2026-01-02T10:00:00+08:00"
    assert client.put(f"/fhir/Contract/c-{unique}", json=contract, headers=JSON).status_code == 200


def test_term_runs_one_to_three_years(client, unique):
    w = world(client, unique)
    for start, end in (("2026-01-01", "2029-06-30"), ("2026-01-01", "2026-06-30")):
        response = _create(client, w.contract(start=start, end=end))
        assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-term"]
        assert response.get_json()["issue"][0]["expression"] == ["Contract.applies"]
    assert _create(client, w.contract(start="2026-01-01", end="2028-12-31")).status_code == 201


def test_team_capacity_in_households(client, unique):
    w = world(client, unique, capacity=1)
    assert _create(client, w.contract(subjects=[w.head, w.spouse, w.child], household=True)).status_code == 201
    other = world(client, unique + "b")  # another household, same full team
    contract = other.contract()
    contract["extension"][0]["valueReference"]["reference"] = f"CareTeam/{w.team}"
    response = _create(client, contract)
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-team-capacity"]
    assert "capacity is 1" in response.get_json()["issue"][0]["diagnostics"]
    contract["applies"] = {"start": "2027-01-01", "end": "2027-12-31"}  # the next year has room
    assert _create(client, contract).status_code == 201


def test_team_needs_exactly_one_lead_family_doctor(client, unique):
    w = world(client, unique)
    team = client.get(f"/fhir/CareTeam/{w.team}").get_json()
    team["participant"] = [participant(f"Practitioner/{w.nurse}", "nurse", lead=True)]
    response = client.put(f"/fhir/CareTeam/{w.team}", json=team, headers=JSON)
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-team-lead"]
    team["participant"] = [participant(f"Practitioner/{w.doctor}", "family-doctor")]
    response = client.put(f"/fhir/CareTeam/{w.team}", json=team, headers=JSON)
    assert response.status_code == 422 and "not 0" in response.get_json()["issue"][0]["diagnostics"]


def test_contract_needs_a_known_team(client, unique):
    w = world(client, unique)
    response = _create(client, w.contract(team=f"missing-{unique}"))
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-care-team"]


def test_fee_split_adds_up_to_the_package_price(client, unique):
    w = world(client, unique)
    response = _create(client, w.contract(fees=[70, 30]))
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-fee-split"]
    assert response.get_json()["issue"][0]["expression"] == ["Contract.term[0].asset"]
    assert _create(client, w.contract(fees=[20, 70, 30])).status_code == 201  # Xiamen: 120 = 20 + 70 + 30


def test_fee_split_of_a_household_is_per_person(client, unique):
    w = world(client, unique)
    everyone = [w.head, w.spouse, w.child]
    response = _create(client, w.contract(subjects=everyone, household=True, fees=[120]))
    assert response.status_code == 422 and "120 × 3" in response.get_json()["issue"][0]["diagnostics"]
    assert _create(client, w.contract(subjects=everyone, household=True, fees=[360])).status_code == 201


def test_unknown_package_is_refused(client, unique):
    w = world(client, unique)
    contract = w.contract()
    contract["term"][0]["topicReference"] = {"reference": f"PlanDefinition/nope-{unique}"}
    response = _create(client, contract)
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-package"]


def test_signer_must_be_the_resident_a_guardian_or_the_household(client, unique):
    w = world(client, unique)
    stranger = world(client, unique + "s").head
    response = _create(client, w.contract(signer=f"Patient/{stranger}"))
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-signer"]
    assert response.get_json()["issue"][0]["expression"] == ["Contract.signer[0].party"]
    # a parent in the child's household signs for the child
    assert _create(client, w.contract(subjects=[w.child], signer=f"Patient/{w.head}")).status_code == 201


def test_a_guardian_related_person_may_sign(client, unique):
    w = world(client, unique)
    guardian = {"resourceType": "RelatedPerson", "id": f"rp-{unique}", "patient": {"reference": f"Patient/{w.spouse}"},
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                              "code": "GUARD"}]}]}
    assert client.put(f"/fhir/RelatedPerson/rp-{unique}", json=guardian, headers=JSON).status_code == 201
    assert _create(client, w.contract(subjects=[w.spouse], signer=f"RelatedPerson/rp-{unique}")).status_code == 201


def test_household_contract_covers_every_member(client, unique):
    w = world(client, unique)
    response = _create(client, w.contract(subjects=[w.head, w.spouse], household=True))
    assert response.status_code == 422 and rules(response.get_json()) == ["jiayi-contract-household-members"]
    assert f"Patient/{w.child}" in response.get_json()["issue"][0]["diagnostics"]
    # any member may sign for the household
    contract = w.contract(subjects=[w.head, w.spouse, w.child], household=True, signer=f"Patient/{w.spouse}")
    assert _create(client, contract).status_code == 201


def test_every_violation_is_reported_at_once(client, unique):
    w = world(client, unique)
    response = _create(client, w.contract(end="2030-12-31", fees=[1]))
    assert response.status_code == 422
    assert sorted(rules(response.get_json())) == ["jiayi-contract-fee-split", "jiayi-contract-term"]


def test_rules_hold_in_a_transaction_and_nothing_is_written(client, unique):
    w = world(client, unique)
    entries = [{"resource": w.contract(), "request": {"method": "POST", "url": "Contract"}},
               {"resource": w.contract(team=w.other_team), "request": {"method": "POST", "url": "Contract"}}]
    response = post(client, "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-contract-one-in-force"]
    found = client.get(f"/fhir/Contract?patient=Patient/{w.head}&_total=accurate").get_json()
    assert found["total"] == 0


def test_rules_hold_for_patch(client, unique):
    w = world(client, unique)
    assert _create(client, w.contract()).status_code == 201
    second = _create(client, w.contract(status="offered")).get_json()["id"]
    patch = [{"op": "replace", "path": "/status", "value": "executed"}]
    response = client.patch(f"/fhir/Contract/{second}", json=patch,
                            headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-contract-one-in-force"]


def test_other_contracts_are_not_checked(client, unique):
    w = world(client, unique)
    contract = w.contract(end="2035-12-31", fees=[1])
    contract["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/contract-type",
                                    "code": "healthinsurance"}]}
    assert _create(client, contract).status_code == 201
    assert n.CONTRACT_TYPE.endswith("contract-type")


MEMBERS = ("head", "spouse", "child")


@pytest.mark.parametrize("member", MEMBERS)
def test_one_contract_in_force_is_checked_for_every_member_of_a_household_contract(client, unique, member):
    w = world(client, unique)
    alone = getattr(w, member)
    everyone = [w.head, w.spouse, w.child]
    first = _create(client, w.contract(subjects=[alone], team=w.other_team))
    assert first.status_code == 201, first.get_json()
    response = _create(client, w.contract(subjects=everyone, household=True))
    assert response.status_code == 409, response.get_json()
    outcome = response.get_json()
    assert rules(outcome) == ["jiayi-contract-one-in-force"]
    assert outcome["issue"][0]["expression"] == [f"Contract.subject[{everyone.index(alone)}]"]
    diagnostics = outcome["issue"][0]["diagnostics"]  # names the contract in force and its term
    assert f"Contract/{first.get_json()['id']}" in diagnostics and "(2026-01-01..2026-12-31)" in diagnostics
    found = client.get(f"/fhir/Contract?patient=Patient/{alone}&_total=accurate").get_json()
    assert found["total"] == 1  # the household contract was not written


@pytest.mark.parametrize("member", MEMBERS)
def test_a_household_contract_in_force_holds_every_member(client, unique, member):
    w = world(client, unique)
    household = _create(client, w.contract(subjects=[w.head, w.spouse, w.child], household=True))
    assert household.status_code == 201, household.get_json()
    response = _create(client, w.contract(subjects=[getattr(w, member)], team=w.other_team))
    assert response.status_code == 409 and rules(response.get_json()) == ["jiayi-contract-one-in-force"]
    assert f"Contract/{household.get_json()['id']}" in response.get_json()["issue"][0]["diagnostics"]
