"""Who is making a request (SPEC §6).  Every request carries a principal: the one its bearer
token describes, or, in development mode (no ``JIAYI_AUTH_JWKS``), the open development
principal that may do everything."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.auth.scopes import Scope, parse_scopes


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: tuple[Scope, ...] = ()
    fhir_user: str | None = None  # Practitioner/<id>, Patient/<id> or RelatedPerson/<id>
    patient: str | None = None  # the launch context of patient/ scopes (a Patient id)
    region: str | None = None  # jiayi_region: an Organization id (public-health role)
    client_id: str | None = None
    remote_addr: str | None = None
    open: bool = False  # development mode: no token, every scope, no relationship limits

    @property
    def practitioner(self) -> str | None:
        return _id_of(self.fhir_user, "Practitioner")

    @property
    def related_person(self) -> str | None:
        return _id_of(self.fhir_user, "RelatedPerson")

    @property
    def own_patient(self) -> str | None:
        """The patient of patient/ scopes: the ``patient`` claim, else the fhirUser Patient."""
        return self.patient or _id_of(self.fhir_user, "Patient")

    @classmethod
    def from_claims(cls, claims: dict, remote_addr: str | None = None) -> Principal:
        return cls(
            subject=str(claims.get("sub") or claims.get("client_id") or "unknown"),
            scopes=parse_scopes(claims.get("scope") or claims.get("scp")),
            fhir_user=local_reference(claims.get("fhirUser")),
            patient=_bare_id(claims.get("patient"), "Patient"),
            region=_bare_id(claims.get("jiayi_region"), "Organization"),
            client_id=_text(claims.get("client_id") or claims.get("azp")),
            remote_addr=remote_addr,
        )


def local_reference(value: object) -> str | None:
    """``Type/id`` from a relative or absolute reference (``https://…/fhir/Practitioner/7``)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    parts = value.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[:parts.index("_history")]
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _id_of(reference: str | None, res_type: str) -> str | None:
    if reference and reference.startswith(res_type + "/"):
        return reference.split("/", 1)[1]
    return None


def _bare_id(value: object, res_type: str) -> str | None:
    """A claim that names a resource by id or by reference (``123`` or ``Organization/123``)."""
    if not isinstance(value, str) or not value:
        return None
    return _id_of(local_reference(value), res_type) if "/" in value else value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


ANONYMOUS = Principal(subject="anonymous-development", open=True)


def unauthenticated(remote_addr: str | None) -> Principal:
    """Whoever sent a request without a valid token: no identity, only the network address."""
    return Principal(subject="", remote_addr=remote_addr)
