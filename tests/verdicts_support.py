"""A fixed corpus of valid and broken resources and the validator's verdict on each, to hold a
faster validator to the answers of the one before it (issue 19, profile validation).

The corpus: every example of the IG, every broken copy :mod:`ig_mutations` derives from it for
each profile it claims, a small demo district (every resource type it makes), and seeded random
edits of the Contracts and Patients of both (an element dropped, a primitive given a wrong value,
an extension's url changed, an array item repeated, a code changed).  The verdict of one
resource is every issue of ``Validator.validate`` (claimed profiles, and for a Contract the
jiayi-contract profile given explicitly), of ``write_issues`` and of ``base_write_issues``.

``python tests/verdicts_support.py`` writes ``tests/data/validation-verdicts.json.gz`` from the
validator as it is; ``tests/unit/validation/test_verdicts.py`` compares against it.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from ig_mutations import mutations

from fhir_server.demo import generate_district
from fhir_server.validation import Validator
from fhir_server.validation.ig import conformance, examples

CONTRACT = "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract"
GOLDEN = Path(__file__).parent / "data" / "validation-verdicts.json.gz"
EDITS = {"Contract": 60, "Patient": 20}  # random edits per resource of the type; 8 for the others


def _district(residents: int = 12) -> list[dict]:
    seen: dict[str, int] = {}
    out = []
    district = generate_district(seed=19, residents=residents, as_of=dt.date(2026, 12, 1))
    for bundle in district.transaction_bundles(200):
        for entry in bundle["entry"]:
            r = entry["resource"]
            seen[r["resourceType"]] = seen.get(r["resourceType"], 0) + 1
            if seen[r["resourceType"]] <= 6:
                out.append(r)
    return out


def _paths(node: object, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "resourceType":
                yield (*path, k)
                yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _at(node: object, path: tuple) -> object:
    for step in path:
        node = node[step]  # type: ignore[index]
    return node


WRONG_VALUES: tuple[object, ...] = ("", "mutated", 7, -1.5, True, None, [], {}, "2026-13-45", "Basic/x")


def _edit(resource: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(resource)
    paths = list(_paths(out))
    if not paths:
        return out
    path = rng.choice(paths)
    parent, last = _at(out, path[:-1]), path[-1]
    value = parent[last]  # type: ignore[index]
    kind = rng.randrange(6)
    if kind == 0 and isinstance(parent, dict):
        del parent[last]
    elif kind == 1 and isinstance(value, list) and value:
        value.append(copy.deepcopy(value[0]))
    elif kind == 2 and isinstance(value, dict) and isinstance(value.get("url"), str):
        value["url"] = rng.choice([value["url"] + "-x", "https://jiayi.dev/fhir/StructureDefinition/jiayi-unknown",
                                   "http://hl7.org/fhir/StructureDefinition/patient-birthPlace", "level"])
    elif kind == 3 and isinstance(value, dict) and "code" in value:
        value["code"] = rng.choice(["mutated-code", "PAT", "district", "executed", "family-doctor"])
    elif kind == 4 and isinstance(parent, dict):
        parent[str(last) + rng.choice(["X", "String", "Boolean"])] = "x"
    else:
        parent[last] = rng.choice(WRONG_VALUES)  # type: ignore[index]
    return out


def corpus() -> Iterator[tuple[str, dict]]:
    """(name, resource), in a fixed order."""
    conf = conformance()
    ig = [r for r in examples() if r.get("resourceType") not in ("Bundle",) or r.get("type") != "collection"]
    for r in ig:
        yield f"ig:{r.get('resourceType')}/{r.get('id')}", r
        for url in (r.get("meta") or {}).get("profile") or []:
            if conf.knows(url) and conf.structure(url) is not None:
                for i, m in enumerate(mutations(conf, conf.compiled(url), r)):
                    yield f"mut:{r.get('resourceType')}/{r.get('id')}:{m.kind}:{m.what}:{i}", m.broken
    district = _district()
    for r in district:
        yield f"district:{r['resourceType']}/{r['id']}", r
    rng = random.Random(19)
    for source, r in [("ig", r) for r in ig] + [("district", r) for r in district]:
        for i in range(EDITS.get(r["resourceType"], 8)):
            edited = _edit(r, rng)
            yield f"edit:{source}:{r['resourceType']}/{r.get('id')}:{i}", _edit(edited, rng) if i % 2 else edited


def _issues(issues: list) -> list[list[str]]:
    return [[i.severity, i.code, "|".join(i.expression), i.diagnostics] for i in issues]


def _run(call, *args) -> list:
    try:
        return _issues(call(*args))
    except Exception as e:  # noqa: BLE001 - a crash is part of the verdict (and a bug to fix)
        return [["raises", type(e).__name__]]


def verdict(validator: Validator, resource: dict) -> dict[str, list]:
    out = {"validate": _run(validator.validate, resource)}
    if resource.get("resourceType") == "Contract":
        out["contract"] = _run(validator.validate, resource, CONTRACT)
    out["write"] = _run(validator.write_issues, resource)
    out["base_write"] = _run(validator.base_write_issues, resource)
    return out


def verdicts() -> dict[str, dict[str, list]]:
    validator = Validator(conformance())
    return {name: verdict(validator, resource) for name, resource in corpus()}


def load_golden() -> dict[str, dict[str, list]]:
    return json.loads(gzip.decompress(GOLDEN.read_bytes()))


if __name__ == "__main__":
    got = verdicts()
    GOLDEN.write_bytes(gzip.compress(json.dumps(got, ensure_ascii=False, sort_keys=True).encode(), mtime=0))
    errors = sum(1 for v in got.values() if any(i[0] == "error" for i in v["validate"]))
    raises = sum(1 for v in got.values() if any(i[0] == "raises" for w in v.values() for i in w))
    print(f"{len(got)} resources, {errors} with errors, {raises} raising, {GOLDEN.stat().st_size} bytes",
          file=sys.stderr)
