"""How many Patients per second does validate_resource check on one core?  (A script, not a test.)

    .venv/bin/python tests/conformance/measure_validation_rate.py

Prints the rate for a small, typical resident record and for the official Patient example
(3.7 KB, names, contacts, extensions), for both layers together and for the schema alone.
"""

from __future__ import annotations

import json
import time

from realistic_instances import EXAMPLES

from fhir_server.validation import validate_resource
from fhir_server.validation.schema import schema_issues

RESIDENT = {
    "resourceType": "Patient", "id": "resident-1",
    "identifier": [{"system": "urn:oid:2.16.156.10011.1.1", "value": "110101199003071234"}],
    "name": [{"family": "王", "given": ["小明"], "text": "王小明"}], "gender": "male", "birthDate": "1990-03-07",
    "telecom": [{"system": "phone", "value": "13800138000", "use": "mobile"}],
    "address": [{"city": "北京市", "district": "东城区", "line": ["和平里街道 3 号楼 2 单元 501"]}],
}


def rate(fn, resource: dict, seconds: float = 2.0) -> float:
    fn(resource)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn(resource)
        count += 100
    return count / (time.perf_counter() - start)


def main() -> None:
    cases = {"typical resident Patient": RESIDENT}
    official = EXAMPLES / "Patient-example.json"
    if official.exists():
        cases["official Patient-example.json"] = json.loads(official.read_text(encoding="utf-8"))
    for label, resource in cases.items():
        assert validate_resource(resource) == []
        both = rate(validate_resource, resource)
        schema = rate(lambda r: schema_issues(r, "Patient", "Patient"), resource)
        print(f"{label:32} {both:8.0f} /s (schema + walker)   {schema:8.0f} /s (schema alone)")


if __name__ == "__main__":
    main()
