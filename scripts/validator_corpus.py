"""Measure the validator against the public validator test cases (FHIR/fhir-test-cases, ``validator/``).

Usage::

    python scripts/validator_corpus.py PATH/TO/fhir-test-cases/validator [--list] [--module M]

The corpus is not part of this repository: bring a copy to the machine and pass its
``validator`` folder.  Every case of ``manifest.json`` for R4 (``version`` 4.0 / 4.0.1) that
needs nothing beyond the core specification is run through the same validator as ``jiayi
validate`` (base R4, base invariants, core extension definitions, the IG): no ``packages``,
``supporting``/``profiles`` files, ``logical`` models, no validator mode this server has no
switch for (``security-checks``, ``allow-comments``, ``noHtmlInMarkdown``, ``language``, …), and not
disabled (``use-test: false``).
A case is *invalid* when the reference (Java) validator's expected outcome has an error or a
fatal issue.  Printed: how many valid cases this validator refuses (false refusals) and how
many invalid cases it accepts (misses), overall and per module; ``--list`` names them.

Invalid cases whose every error needs a terminology server (codes and displays of SNOMED CT,
LOINC or CVX, SNOMED expression constraints) are listed in :data:`NEEDS_TERMINOLOGY_SERVER`,
each with what it needs.  The server holds the HL7 code systems of R4 (FHIR, v2, v3) and
checks codes against them; it holds no external code system.  Such a case is counted apart
("needs a terminology server") and left out of the accepted-invalid denominator, and only
while it is accepted: if this validator refuses it anyway, it counts as caught.  A case with
one error that does not need a terminology server is not listed here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

R4 = {"4.0", "4.0.1"}
NEEDS_MORE = ("packages", "supporting", "profiles", "logical", "supporting5")
# validator modes this server has no switch for: their expected outcome assumes the mode
# case name -> what the reference validator used to find its errors (all of them)
NEEDS_TERMINOLOGY_SERVER = {
    "vs-bad-code": "SNOMED CT: codes 1 and 2 do not exist",
    "obs-temp-code2": "SNOMED CT: code 276885007x does not exist",
    "vs-bad-ecl": "SNOMED CT expression constraint (ECL) parsing",
    "vs-bad-ecl-us": "SNOMED CT expression constraint (ECL) parsing",
    "uk-msg": "SNOMED CT (UK edition): unknown codes and wrong displays",
    "sdoh-type-slice": "LOINC: wrong display of 88123-5",
    "ips-nz-pj": "LOINC: wrong displays of the section codes",
    "PulseOxBundle_25Oct2022": "LOINC: wrong displays; vs-3 from the R4 vital-signs profile the reference "
                               "validator applies by LOINC code",
    "obs-temp-bad": "SNOMED CT 276885007 recognised as a body temperature, which the R4 bodytemp profile "
                    "then requires as LOINC 8310-5",
    "cvx": "CVX: wrong display of 207",
    "bundle-id-5": "CVX: wrong display of 207",
    "shc-cvx": "CVX: code 209 unknown in the 2025 CVX release",
}
MODES = ("validateContains", "allow-comments", "security-checks", "for-publication", "best-practice", "examples",
         # switches that make the reference validator stricter than its defaults: HTML-looking tags
         # in markdown are errors, displays are judged in the given languages only, experimental
         # content is refused
         "noHtmlInMarkdown", "language", "no-experimental-content")


def selected(manifest: dict) -> list[dict]:
    return [case for case in manifest["test-cases"]
            if case.get("version") in R4 and case.get("use-test", True) is not False
            and not any(case.get(key) for key in NEEDS_MORE) and case.get("java") is not None
            and not any(key in case for key in MODES)]


def expected_errors(corpus: Path, case: dict) -> int | None:
    """The reference validator's error count (None when the corpus has no outcome for the case)."""
    java = case["java"]
    if isinstance(java, dict):
        if "errorCount" in java:
            return int(java["errorCount"])
        outcome = java.get("outcome") or {}
    else:
        path = corpus / "outcomes" / java
        if not path.exists():
            return None
        outcome = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for issue in outcome.get("issue", []) if issue.get("severity") in ("error", "fatal"))


def _validator_api():
    """``jiayi validate``'s own functions; for older checkouts (to measure "before"), the same
    steps spelled out with the API they had."""
    try:
        from fhir_server.offline import default_validator, document_issues
    except ImportError:
        from fhir_server.core import jsonio
        from fhir_server.core.errors import FHIRError
        from fhir_server.formats.xml import xml_to_resource
        from fhir_server.offline import _issues
        from fhir_server.validation import Validator, ig

        def default_validator():
            return Validator(ig.conformance())

        def document_issues(validator, data, profile=None):
            try:
                resource = xml_to_resource(data) if data.lstrip()[:1] == b"<" else jsonio.loads(data, 256)
            except FHIRError as error:
                return error.issues
            return _issues(validator, resource, profile)
    return default_validator, document_issues


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="the validator/ folder of fhir-test-cases")
    parser.add_argument("--list", action="store_true", help="name every miss and false refusal")
    parser.add_argument("--module", default=None, help="only the cases of this module")
    parser.add_argument("--show", default=None, help="print our issues for this case name")
    args = parser.parse_args()

    default_validator, document_issues = _validator_api()

    manifest = json.loads((args.corpus / "manifest.json").read_text(encoding="utf-8"))
    validator = default_validator()
    totals: Counter = Counter()
    per_module: dict[str, Counter] = {}
    misses, refusals, terminology = [], [], []
    for case in selected(manifest):
        if args.module and case.get("module") != args.module:
            continue
        path = args.corpus / case["file"]
        if not path.exists() or path.suffix not in (".json", ".xml") or not path.stat().st_size:
            # an empty file is one the copy lacks (a mirror without the large blobs): not a case
            continue
        expected = expected_errors(args.corpus, case)
        if expected is None:
            continue
        invalid = expected > 0
        try:
            issues = document_issues(validator, path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - a crash is reported as a refusal, with its cause
            issues = None
            print(f"CRASH {case['name']}: {exc!r}", file=sys.stderr)
        refused = issues is None or any(i.is_error for i in issues)
        if args.show == case["name"]:
            for issue in issues or []:
                print(f"  {issue.severity} [{issue.code}] {', '.join(issue.expression)}: {issue.diagnostics}")
        module = per_module.setdefault(case.get("module") or "-", Counter())
        for counter in (totals, module):
            counter["valid" if not invalid else "invalid"] += 1
            if invalid and not refused:
                counter["accepted-invalid"] += 1
            if not invalid and refused:
                counter["refused-valid"] += 1
        if invalid and not refused and case["name"] in NEEDS_TERMINOLOGY_SERVER:
            for counter in (totals, module):
                counter["invalid"] -= 1
                counter["accepted-invalid"] -= 1
                counter["needs-terminology"] += 1
            terminology.append(case)
        elif invalid and not refused:
            misses.append(case)
        if not invalid and refused:
            refusals.append(case)

    def share(c: Counter, part: str, whole: str) -> str:
        return f"{c[part]}/{c[whole]} ({100 * c[part] / c[whole]:.1f}%)" if c[whole] else "0/0"

    print(f"R4 core-only cases: {totals['valid'] + totals['invalid']} "
          f"({totals['valid']} valid, {totals['invalid']} invalid)")
    print(f"refused valid:    {share(totals, 'refused-valid', 'valid')}")
    print(f"accepted invalid: {share(totals, 'accepted-invalid', 'invalid')}")
    print(f"needs a terminology server (accepted, not counted above): {totals['needs-terminology']}")
    print("per module (refused valid | accepted invalid):")
    for name, c in sorted(per_module.items()):
        print(f"  {name:14} {share(c, 'refused-valid', 'valid'):>16} | {share(c, 'accepted-invalid', 'invalid')}")
    if args.list:
        for case in refusals:
            print(f"REFUSED-VALID    {case.get('module')}: {case['name']}  ({case['file']})")
        for case in misses:
            print(f"ACCEPTED-INVALID {case.get('module')}: {case['name']}  ({case['file']})")
        for case in terminology:
            print(f"NEEDS-TERMINOLOGY {case.get('module')}: {case['name']}: {NEEDS_TERMINOLOGY_SERVER[case['name']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
