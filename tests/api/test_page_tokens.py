"""Page tokens are bound to their search (issue 18): replayed under another query, type or
principal they are refused with 410, never answered with the other search's resources."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from api.conftest import patient

from fhir_server.auth.principal import Principal
from fhir_server.interactions.context import FhirRequest
from fhir_server.interactions.search import token_scope


def _next_token(client, query: str) -> str:
    bundle = client.get(f"/fhir/Patient?{query}").get_json()
    link = next(lk["url"] for lk in bundle["link"] if lk["relation"] == "next")
    return parse_qs(urlsplit(link).query)["_page"][0]


def _three_patients(client, unique: str) -> str:
    for n in range(3):
        assert client.post("/fhir/Patient", json=patient(f"{unique}-{n}")).status_code == 201
    return f"identifier=urn:oid:2.16.156.10011.1.2|{unique}-0,urn:oid:2.16.156.10011.1.2|{unique}-1," \
           f"urn:oid:2.16.156.10011.1.2|{unique}-2&_count=1"


def test_next_link_pages_through_its_own_search(client, unique):
    query = _three_patients(client, unique)
    token = _next_token(client, query)
    second = client.get(f"/fhir/Patient?{query}&_page={token}")
    assert second.status_code == 200
    assert second.get_json()["entry"][0]["resource"]["resourceType"] == "Patient"


def test_token_replayed_under_another_type_or_query_is_gone(client, unique):
    token = _next_token(client, _three_patients(client, unique))
    for url in (f"/fhir/Observation?code=http://loinc.org|8480-6&_page={token}",
                f"/fhir/Patient?gender=female&_count=1&_page={token}",
                f"/fhir/Patient/{unique}x/Observation?_count=1&_page={token}"):
        response = client.get(url)
        assert response.status_code == 410, (url, response.get_data(as_text=True)[:300])
        assert response.get_json()["resourceType"] == "OperationOutcome"


def test_tokens_are_scoped_to_the_principal():
    def scope(subject: str) -> str:
        return token_scope(FhirRequest("GET", "Patient", principal=Principal(subject=subject)), "Patient")

    assert scope("Practitioner/a") != scope("Practitioner/b")
