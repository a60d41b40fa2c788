"""The rules of a Bundle that its element tree cannot say (FHIR R4 bundle.html, documents.html,
messaging.html); the ``bdl-*`` invariants themselves are evaluated with the other base invariants.

- ``fullUrl``: an absolute URL, a ``urn:uuid:`` with a UUID or a ``urn:oid:`` with an OID (never a
  relative reference); a RESTful fullUrl (``[base]/Type/id``) names the entry's own resource type
  and id (bundle.html "fullUrl SHALL NOT disagree with the id in the resource").
- uniqueness (bdl-7, natively): a fullUrl twice, or two entries with the same resource type and id (and no differing
  ``meta.versionId``) outside a history Bundle, unless their RESTful fullUrls have different
  bases (the same id on two servers).
- ``Bundle.link``: a relation appears once; the paging relations only in a searchset or history.
- searchset: an entry found by the search (``search.mode = match``) has an id and, when the
  ``self`` link names the searched type, is of that type; an ``outcome`` entry is an
  OperationOutcome.
- documents and messages carry what they are about: every relative, ``urn:`` or same-server
  reference of a document's Composition and of a message's ``MessageHeader.focus`` resolves to
  exactly one entry, and any reference that does resolve resolves to one entry only
  (bundle.html#references: a relative reference resolves against
  the base of the fullUrl of the entry that holds it; a version-specific one also by
  ``meta.versionId``); a reference whose resolved entry is of another type than the reference
  says is an error in any Bundle.

Request Bundles (batch, transaction) have their own legitimate shapes: entries without
``fullUrl``, ``urn:uuid`` placeholders, a POST entry whose resource has no id yet.  For them an
ill-formed ``urn:uuid``/``urn:oid`` is only a warning (some senders use their own keys there and
the server resolves the placeholder by string equality anyway).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from fhir_server.core.errors import Issue
from fhir_server.definitions.structures import structures

SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+\Z")
RESTFUL = re.compile(r"(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
                     r"(/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?\Z")
REQUESTS = frozenset({"batch", "transaction"})
PAGING = frozenset({"first", "previous", "prev", "next", "last"})
PAGED = frozenset({"searchset", "history"})


def bundle_issues(bundle: dict, where: str = "Bundle") -> list[Issue]:
    """Every Bundle-level issue of ``bundle`` (already known to be a structurally valid Bundle)."""
    return _BundleCheck(bundle, where).run()


def restful(url: str) -> re.Match | None:
    """``[base]/Type/id[/_history/v]`` with a known resource type, else None."""
    match = RESTFUL.search(url)
    if match is None or not structures().is_resource_type(match["type"]):
        return None
    return match


class _BundleCheck:
    def __init__(self, bundle: dict, where: str) -> None:
        self.bundle = bundle
        self.where = where
        self.type = bundle.get("type")
        self.entries = [e if isinstance(e, dict) else {} for e in bundle.get("entry") or []]
        self.issues: list[Issue] = []

    def add(self, message: str, where: str, code: str = "invalid", severity: str = "error") -> None:
        self.issues.append(Issue(code, message, severity=severity, expression=(where,)))

    def run(self) -> list[Issue]:
        self.links()
        for i, entry in enumerate(self.entries):
            self.full_url(entry, f"{self.where}.entry[{i}]")
        if self.type != "history":
            self.unique()
        if self.type == "searchset":
            self.search_entries()
        self.references()
        return self.issues

    def links(self) -> None:
        counts: Counter = Counter()
        for i, link in enumerate(self.bundle.get("link") or []):
            relation = link.get("relation") if isinstance(link, dict) else None
            if not isinstance(relation, str):
                continue
            counts[relation] += 1
            loc = f"{self.where}.link[{i}]"
            if counts[relation] == 2:
                self.add(f"The link relation '{relation}' appears more than once: each relation names one URL",
                         loc)
            if relation in PAGING and self.type not in PAGED:
                self.add(f"The paging link relation '{relation}' belongs to a searchset or history Bundle, not "
                         f"to a {self.type}", f"{loc}.relation")

    def full_url(self, entry: dict, loc: str) -> None:
        url = entry.get("fullUrl")
        if not isinstance(url, str):
            return
        lenient = self.type in REQUESTS
        if url.startswith("urn:uuid:") and not UUID.match(url):
            self.add(f"fullUrl '{url}' is not a urn:uuid: followed by a lowercase UUID", f"{loc}.fullUrl",
                     severity="warning" if lenient else "error")
            return
        if url.startswith("urn:oid:") and not OID.match(url):
            self.add(f"fullUrl '{url}' is not a urn:oid: followed by an OID", f"{loc}.fullUrl",
                     severity="warning" if lenient else "error")
            return
        if not SCHEME.match(url):
            self.add(f"fullUrl '{url}' must be an absolute URL (or a urn:uuid: / urn:oid:), not a relative "
                     "reference", f"{loc}.fullUrl")
            return
        resource = entry.get("resource")
        match = restful(url) if isinstance(resource, dict) and not url.startswith("urn:") else None
        if match is None or not isinstance(resource, dict):
            return
        res_id = resource.get("id")
        if res_id is None:
            request = entry.get("request")
            if not (lenient and isinstance(request, dict) and request.get("method") == "POST"):
                self.add(f"fullUrl '{url}' is a RESTful URL for {match['type']}/{match['id']}, but the resource "
                         "has no id", f"{loc}.resource.id")
            return
        if match["type"] != resource.get("resourceType") or match["id"] != res_id:
            self.add(f"fullUrl '{url}' must end with the resource's own type and id "
                     f"({resource.get('resourceType')}/{res_id})", f"{loc}.fullUrl")

    def unique(self) -> None:
        """bdl-7 (a fullUrl once, unless with different meta.versionId), checked here for request
        Bundles too, and the same resource twice without fullUrls to tell them apart."""
        urls: dict[tuple, int] = {}
        for i, entry in enumerate(self.entries):
            if isinstance(entry.get("fullUrl"), str):
                key = (entry["fullUrl"], _version(entry))
                if key in urls:
                    self.add(f"Constraint bdl-7 failed: fullUrl '{key[0]}' is the fullUrl of entry {urls[key]} "
                             "too; a fullUrl must be unique in a Bundle (or carry different meta.versionId)",
                             f"{self.where}.entry[{i}].fullUrl", code="invariant")
                urls.setdefault(key, i)
        seen: dict[tuple, int] = {}
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource")
            if not isinstance(resource, dict) or not isinstance(resource.get("id"), str):
                continue
            url = entry["fullUrl"] if isinstance(entry.get("fullUrl"), str) else ""
            match = restful(url) if url and not url.startswith("urn:") else None
            # the same type and id on two servers (different fullUrl bases) are two resources
            same = (resource.get("resourceType"), resource["id"], _version(entry), match["base"] if match else None)
            if same in seen:
                self.add(f"{same[0]}/{same[1]} is in entry {seen[same]} already: a resource appears once in a "
                         "Bundle (or with different meta.versionId)", f"{self.where}.entry[{i}].resource.id")
            else:
                seen[same] = i

    def search_entries(self) -> None:
        searched = self._searched_type()
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource")
            search = entry["search"] if isinstance(entry.get("search"), dict) else {}
            if not isinstance(resource, dict):
                continue
            loc = f"{self.where}.entry[{i}].resource"
            mode = search.get("mode")
            if mode == "outcome" and resource.get("resourceType") != "OperationOutcome":
                self.add(f"An entry with search.mode 'outcome' is an OperationOutcome, not a "
                         f"{resource.get('resourceType')}", loc)
            if mode == "match":
                if not resource.get("id"):
                    self.add("A resource found by a search has an id", f"{loc}.id", code="required")
                if searched and resource.get("resourceType") != searched:
                    self.add(f"A match of a search for {searched} cannot be a {resource.get('resourceType')}", loc)

    def _searched_type(self) -> str | None:
        for link in self.bundle.get("link") or []:
            if isinstance(link, dict) and link.get("relation") == "self" and isinstance(link.get("url"), str):
                path = link["url"].split("?", 1)[0].rstrip("/")
                last = path.rsplit("/", 1)[-1]
                return last if structures().is_resource_type(last) else None
        return None

    # references ---------------------------------------------------------------------------
    def references(self) -> None:
        by_url: dict[str, list[int]] = {}
        by_key: dict[tuple[str, str], list[int]] = {}
        bases: set[str] = set()
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource")
            url = entry.get("fullUrl")
            if isinstance(url, str):
                by_url.setdefault(url, []).append(i)
                match = restful(url) if not url.startswith("urn:") else None
                if match and match["base"]:
                    bases.add(match["base"])
            if isinstance(resource, dict) and isinstance(resource.get("id"), str):
                by_key.setdefault((str(resource.get("resourceType")), resource["id"]), []).append(i)
        for i, entry in enumerate(self.entries):
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                continue
            holder_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
            prefix = f"{self.where}.entry[{i}].resource"
            for loc, reference in reference_locations(resource, prefix):
                must_resolve = self._must_resolve(i, resource, loc[len(prefix):])
                hits, local = self._resolve(reference, holder_url, by_url, by_key, bases)
                if hits is None:
                    continue  # a reference outside this Bundle's reach (another server, a logical one)
                if len(hits) > 1:
                    self.add(f"'{reference}' matches {len(hits)} entries of the Bundle "
                             f"({', '.join(f'entry[{h}]' for h in hits)}): it must identify one", loc)
                elif not hits:
                    if must_resolve and local:
                        self.add(f"'{reference}' does not resolve to an entry of this {self.type} Bundle: a "
                                 f"{self.type} carries every resource it references", loc, code="not-found")
                    self._uuid_namesake(reference, by_url, loc)
                else:
                    target = self.entries[hits[0]].get("resource")
                    stated = restful(reference.split("?", 1)[0]) if not reference.startswith("urn:") else None
                    if isinstance(target, dict) and stated and stated["type"] != target.get("resourceType"):
                        self.add(f"'{reference}' resolves to entry[{hits[0]}], a {target.get('resourceType')}, "
                                 f"not a {stated['type']}", loc)

    def _uuid_namesake(self, reference: str, by_url: dict, loc: str) -> None:
        """``Practitioner/<uuid>`` where the Bundle's ``urn:uuid:<uuid>`` entry is an Organization:
        the id is the entry's (a UUID names one thing), its type is not (the reference validator
        matches the two; fhir-test-cases ``bad-bundle-reference-type``)."""
        match = restful(reference) if not reference.startswith(("#", "urn:")) else None
        if match is None or match["base"] or match["version"]:
            return
        named = by_url.get(f"urn:uuid:{match['id']}", [])
        target = self.entries[named[0]].get("resource") if len(named) == 1 and UUID.match(
            f"urn:uuid:{match['id']}") else None
        if isinstance(target, dict) and target.get("resourceType") != match["type"]:
            self.add(f"'{reference}' names entry[{named[0]}] (urn:uuid:{match['id']}), a "
                     f"{target.get('resourceType')}, not a {match['type']}", loc)

    def _must_resolve(self, index: int, resource: dict, path: str) -> bool:
        """A document's Composition (documents.html: the resources it references are in the
        document) and a message's focus (messaging.html: the focus resources travel with it)."""
        if self.type == "document":
            return index == 0 and resource.get("resourceType") == "Composition"
        if self.type == "message":
            return resource.get("resourceType") == "MessageHeader" and path.startswith(".focus")
        return False

    def _resolve(self, reference: str, holder_url: str | None, by_url: dict, by_key: dict,
                 bases: set[str]) -> tuple[list[int] | None, bool]:
        """(matching entry indexes, or None when the reference cannot be resolved here; whether
        the reference claims to be inside the Bundle)."""
        if reference.startswith("#") or "?" in reference:
            return None, False
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return list(by_url.get(reference, [])), True
        match = restful(reference)
        if match is None:
            return (list(by_url[reference]), True) if reference in by_url else (None, False)
        version = match["version"]
        unversioned = reference[: match.start("version") - len("/_history/")] if version else reference
        absolute: str | None
        if match["base"]:  # absolute
            absolute = unversioned
            local = match["base"] in bases
        else:
            holder = restful(holder_url) if holder_url and not holder_url.startswith("urn:") else None
            absolute = holder["base"] + unversioned if holder is not None and holder["base"] else None
            local = True
        if absolute is not None and absolute in by_url:
            hits = list(by_url[absolute])
        elif absolute is None or not match["base"]:
            # no RESTful base to resolve against: entries without a fullUrl, by type and id
            hits = [h for h in by_key.get((match["type"], match["id"]), [])
                    if not isinstance(self.entries[h].get("fullUrl"), str)]
        else:
            hits = []
        if version:
            hits = [h for h in hits if _version(self.entries[h]) in (version, None)]
        return hits, local


def _version(entry: dict) -> str | None:
    resource = entry.get("resource")
    meta = resource.get("meta") if isinstance(resource, dict) else None
    return meta.get("versionId") if isinstance(meta, dict) else None


def reference_locations(node: object, where: str) -> Iterator[tuple[str, str]]:
    """(location, reference) of every Reference in a resource, contained ones included."""
    stack: list[tuple[object, str]] = [(node, where)]
    while stack:
        current, loc = stack.pop()
        if isinstance(current, dict):
            if isinstance(current.get("reference"), str) and not isinstance(current.get("resourceType"), str):
                yield loc, current["reference"]
            for key, value in current.items():
                if isinstance(value, (dict, list)) and not key.startswith("_"):
                    stack.append((value, f"{loc}.{key}"))
        elif isinstance(current, list):
            stack.extend((item, f"{loc}[{i}]") for i, item in enumerate(current))
