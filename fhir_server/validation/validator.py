"""The validator as callers use it: base R4, base invariants and profiles, with one policy
(SPEC §3 "Validation"; FHIR R4 validation.html).

- :meth:`Validator.validate`: everything ``$validate`` and ``jiayi validate`` report — the
  base R4 structure (:func:`validate_resource`), the base invariants, and the profile given
  or, without one, every profile the resource claims in ``meta.profile``; a Bundle's
  entries are validated against the profiles they claim, their references resolved inside
  the Bundle.
- :meth:`Validator.base_write_issues` and :meth:`Validator.write_issues`: the write path (base
  structure was checked already): the base R4 error invariants and core extensions of every
  resource; then a resource claiming a Jiayi profile is validated against it, a resource
  claiming another profile only in strict mode.

Issues are deduplicated by (severity, code, location): a profile restating a base rule does
not report it twice.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from fhir_server.core.errors import Issue
from fhir_server.validation.base_invariants import base_invariant_issues
from fhir_server.validation.conformance import JIAYI, Conformance, UnknownProfile, base_type, canonical
from fhir_server.validation.core_extensions import DEFINITIONAL, core_extension_issues, extension_holders
from fhir_server.validation.extensions import extension_issues
from fhir_server.validation.profile import ProfileCheck, Resolver
from fhir_server.validation.resource import validate_with_invariants


def _no_resolve(_ref: str) -> dict | None:
    return None


def claimed_profiles(resource: dict) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def bundle_resolver(bundle: dict, outer: Resolver = _no_resolve) -> Resolver:
    """References between entries of a Bundle: by fullUrl, and by ``Type/id`` of each entry."""
    index: dict[str, dict] = {}
    for entry in bundle.get("entry") or []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict):
            continue
        if isinstance(entry.get("fullUrl"), str):
            index[entry["fullUrl"]] = res
        if isinstance(res.get("id"), str):
            index[f"{res.get('resourceType')}/{res['id']}"] = res

    def resolve(ref: str) -> dict | None:
        hit = index.get(ref)
        if hit is None and "/" in ref and not ref.startswith("urn:"):
            hit = index.get("/".join(ref.split("/_history/")[0].split("/")[-2:]))
        return hit if hit is not None else outer(ref)

    return resolve


class Validator:
    def __init__(self, conformance: Conformance, strict: bool = False) -> None:
        self.conformance = conformance
        self.strict = strict

    def validate(self, resource: object, profile: str | None = None, expected_type: str | None = None,
                 resolve: Resolver = _no_resolve) -> list[Issue]:
        """Every issue of ``resource`` (raises :class:`UnknownProfile` for an unknown explicit profile)."""
        if profile is not None and not self.conformance.knows(profile):
            raise UnknownProfile(profile)
        holders: set[int] = set()  # where extensions are (core_extensions.extension_holders), marked by the walk
        issues, invariants = validate_with_invariants(resource, expected_type, holders)  # one walk for all three
        if not isinstance(resource, dict) or any(i.is_error and i.expression == (_where(resource),)
                                                 and i.code in ("invalid", "required") for i in issues):
            return issues
        where = _where(resource)
        issues += invariants if invariants is not None else base_invariant_issues(resource, where)
        checked: set[tuple[int, str, str, str]] = set()  # extensions the profile walk checked (deduplicated anyway)
        if resource.get("resourceType") == "Bundle":
            resolve = bundle_resolver(resource, resolve)
            for i, entry in enumerate(resource.get("entry") or []):
                inner = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(inner, dict):
                    issues += self.profile_issues(inner, claimed_profiles(inner), f"{where}.entry[{i}].resource",
                                                  resolve, lenient=True, checked=checked)
        urls = [profile] if profile is not None else claimed_profiles(resource)
        issues += self.profile_issues(resource, urls, where, resolve, lenient=profile is None, checked=checked)
        if invariants is None:  # the walk did not reach every element
            holders = extension_holders(resource)
        issues += extension_issues(self.conformance, resource, where, resolve, checked, holders)
        issues += core_extension_issues(resource, where, self._known_extension, holders)
        return dedupe(issues)

    def _known_extension(self, url: str) -> bool:
        """Defined by the IG or the extra profiles (a Jiayi url is an error elsewhere when unknown)."""
        return url.startswith(JIAYI) or self.conformance.extension(url) is not None

    def base_write_issues(self, resource: dict) -> list[Issue]:
        """The base R4 rules a write checks beyond the structure: the error invariants of every
        resource (compiled, see :mod:`.invariant_compiler`) and the core extension definitions.
        Definitional resources (StructureDefinition, ValueSet, …) are remembered by content: their
        sdf-/eld- invariants need the FHIRPath engine, and the IG's are written again at every
        start of the app."""
        if resource.get("resourceType") in DEFINITIONAL:
            meta = resource.get("meta")
            if isinstance(meta, dict):  # the server stamps these on every write: not part of the content
                content_meta = {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")}
                resource = {**resource, "meta": content_meta}
            return list(_definitional_write_issues(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)))
        return _base_write_issues(resource)

    def write_issues(self, resource: dict, resolve: Resolver = _no_resolve) -> list[Issue]:
        """The profile issues of a resource about to be written: its claimed Jiayi profiles (every
        claimed profile in strict mode); [] when it claims nothing checked."""
        claims = claimed_profiles(resource)
        urls = claims if self.strict else [u for u in claims if u.startswith(JIAYI)]
        urls = [u for u in urls if base_type(u) is None]
        if not urls:
            return []
        return dedupe(self.profile_issues(resource, urls, _where(resource), resolve, lenient=False))

    def profile_issues(self, resource: dict, urls: list[str], where: str, resolve: Resolver,
                       lenient: bool, checked: set[tuple[int, str, str, str]] | None = None) -> list[Issue]:
        issues: list[Issue] = []
        res_type = resource.get("resourceType")
        for url in dict.fromkeys(urls):
            if not self.conformance.knows(url):
                issues.append(_unknown(url, where, lenient and not url.startswith(JIAYI) and not self.strict))
                continue
            if self.conformance.type_of(url) != res_type:
                issues.append(Issue("invalid", f"Profile {canonical(url)} is for {self.conformance.type_of(url)}"
                                    f" resources, not {res_type}", expression=(where,)))
                continue
            root = self.conformance.compiled(url)
            if root is not None:
                issues += ProfileCheck(self.conformance, resolve, checked=checked).run(resource, root, where)
        return issues


def _base_write_issues(resource: dict) -> list[Issue]:
    where = _where(resource)
    return dedupe(base_invariant_issues(resource, where, errors_only=True) + core_extension_issues(resource, where))


@lru_cache(maxsize=1024)
def _definitional_write_issues(content: bytes) -> tuple[Issue, ...]:
    return tuple(_base_write_issues(orjson.loads(content)))


def _where(resource: object) -> str:
    res_type = resource.get("resourceType") if isinstance(resource, dict) else None
    return res_type if isinstance(res_type, str) and res_type else "Resource"


def _unknown(url: str, where: str, lenient: bool) -> Issue:
    if lenient:
        return Issue("not-supported", f"The claimed profile {url} is not known to this server; the resource was "
                     "not checked against it", severity="warning", expression=(f"{where}.meta.profile",))
    return Issue("not-supported", f"Unknown profile {url}: this server has no StructureDefinition with that "
                 "canonical URL (Jiayi profiles are https://jiayi.dev/fhir/StructureDefinition/jiayi-...)",
                 expression=(f"{where}.meta.profile",))


def dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple] = set()
    out = []
    for issue in issues:
        key = (issue.severity, issue.code, issue.expression, issue.diagnostics if issue.code == "invariant" else "")
        if key not in seen:
            seen.add(key)
            out.append(issue)
    return out
