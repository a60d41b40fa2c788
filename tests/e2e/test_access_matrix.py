"""Who sees what, over HTTP against a started ``jiayi serve`` with ``JIAYI_AUTH_JWKS`` set
(SPEC §6): seven principals with tokens of a throw-away identity provider, a third-party
client (fhirpy), both databases; then the server's logs are searched for personal data."""

from __future__ import annotations

import uuid

import pytest
import requests
from access_world import OBSERVATIONS_EACH, AccessWorld
from auth_support import ISSUER, TestIssuer
from fhirpy import SyncFHIRClient

from e2e.conftest import running_server
from fhir_server.core.national_ids import id_check_digit

pytestmark = pytest.mark.e2e
AUDIENCE = "https://jiayi.test/fhir"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def secured(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"secured-{request.param}")
    issuer = TestIssuer(workdir, AUDIENCE)
    url = f"sqlite:///{workdir / 'jiayi.sqlite3'}" if request.param == "sqlite" else \
        _fresh_postgres(request, tmp_path_factory)
    environment = {"JIAYI_AUTH_JWKS": str(issuer.jwks_path), "JIAYI_AUTH_ISSUER": ISSUER,
                   "JIAYI_AUTH_AUDIENCE": AUDIENCE}
    with running_server(url, workdir, environment=environment) as base:
        admin = issuer.headers("system/*.cruds")

        def send(method, path, body):
            response = requests.request(method, f"{base}/{path}", json=body, headers=admin, timeout=60)
            return response.status_code, response.json()

        world = AccessWorld(uuid.uuid4().hex[:10]).build(send)
        yield base, issuer, world, workdir


def _fresh_postgres(request, tmp_path_factory) -> str:
    from helpers import fresh_database_url

    return fresh_database_url("postgresql", request, tmp_path_factory)


def _client(base: str, issuer: TestIssuer, world: AccessWorld, who: str) -> SyncFHIRClient:
    scope, claims = world.principals()[who]
    return SyncFHIRClient(base, authorization=f"Bearer {issuer.token(scope, **claims)}",
                          requests_config={"timeout": 60})


@pytest.mark.parametrize("who", ["doctor A", "doctor B", "hospital doctor", "resident", "guardian",
                                 "public health", "system"])
def test_who_sees_what(secured, who):
    base, issuer, world, _ = secured
    fhir = _client(base, issuer, world, who)
    wanted = world.sees()[who]
    patients = fhir.resources("Patient").search(_id=",".join(world.residents)).limit(10)
    assert {p.id for p in patients.fetch_all()} == wanted
    assert patients.count() == len(wanted)
    observations = fhir.resources("Observation").search(subject=",".join(f"Patient/{p}" for p in world.residents))
    assert observations.count() == len(wanted) * OBSERVATIONS_EACH
    scope, claims = world.principals()[who]
    headers = {"Authorization": f"Bearer {issuer.token(scope, **claims)}"}
    for resident in (world.head, world.b1, world.referred, world.ph1, world.outside):
        status = requests.get(f"{base}/Patient/{resident}", headers=headers, timeout=30).status_code
        assert status == (200 if resident in wanted else 403), (who, resident)


def test_no_token_no_data(secured):
    base, _, _, _ = secured
    response = requests.get(f"{base}/Patient", timeout=30)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(f"{base}/metadata", timeout=30).status_code == 200
    assert requests.get(f"{base}/.well-known/smart-configuration", timeout=30).json()["issuer"] == ISSUER


def test_the_logs_hold_no_personal_data(secured):
    base, issuer, world, workdir = secured
    first17 = "11010519491231002"
    id_card = first17 + id_check_digit(first17)
    headers = issuer.headers("system/*.rs")
    for query in (f"identifier=urn:oid:2.16.156.10011.1.3|{id_card}", "family=王", "name=王秀英",
                  "phone=13912345678", f"_id={world.head}&name:pinyin=wangxiuying"):
        assert requests.get(f"{base}/Patient?{query}", headers=headers, timeout=30).status_code == 200
    requests.get(f"{base}/Patient?identifier={id_card}", timeout=30)  # refused: logged all the same
    logs = "".join((workdir / name).read_text(encoding="utf-8", errors="replace")
                   for name in ("stdout.log", "stderr.log"))
    assert "GET /fhir/Patient?identifier=" in logs  # the access log is there
    for secret in (id_card, "110105", "王", "%E7%8E%8B", "13912345678", "wangxiuying"):
        assert secret not in logs, secret
