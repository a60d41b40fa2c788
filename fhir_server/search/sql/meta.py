"""``$meta`` at system and type level: the profiles, tags and security labels in use, read
from the ``_profile``, ``_tag`` and ``_security`` index rows (no resource is loaded)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.storage.index_tables import INDEX_TABLES


def meta_in_use(session: Session, res_type: str | None = None) -> dict:
    token, uri = INDEX_TABLES["token"], INDEX_TABLES["uri"]
    meta: dict = {}
    profiles = select(uri.c.value).where(uri.c.param == "_profile").distinct().order_by(uri.c.value)
    if res_type:
        profiles = profiles.where(uri.c.res_type == res_type)
    found = [row[0] for row in session.execute(profiles)]
    if found:
        meta["profile"] = found
    for param, key in (("_tag", "tag"), ("_security", "security")):
        query = select(token.c.system, token.c.code).where(token.c.param == param).distinct().order_by(
            token.c.system, token.c.code)
        if res_type:
            query = query.where(token.c.res_type == res_type)
        codings = [{k: v for k, v in (("system", s), ("code", c)) if v} for s, c in session.execute(query)]
        if codings:
            meta[key] = codings
    return meta
