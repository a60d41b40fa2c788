"""``python -m benchmarks.validation_steps [--residents 300] [--profile]``: where the validation
of a Contract goes, step by step (issue 19), over the Contracts of a demo district.

Each step is timed on its own, in CPU time (``time.process_time``, best of ``--rounds``), in
microseconds per Contract:

- ``validate jiayi-contract``: all of it, as ``$validate`` and the benchmark's in-process row
  (``fhir_server.validation.profiles.validate_profile``);
- ``JSON schema``, ``structure walk`` (required elements, primitives, base bindings and codes,
  reference types), ``base invariants``, ``profile walk`` (the jiayi-contract snapshot: slices,
  fixed and pattern values, bindings, reference targets, extensions, the profile's invariants),
  ``extensions walk`` and ``core extensions walk`` (every extension wherever it is);
- the write path's share: ``write: structure + write hook`` (``validate_resource`` and the
  repository's validation hook, as a create runs it), for the Contracts and the district's
  Patients (jiayi-patient).

With ``--profile`` the whole validation also runs under pyinstrument (CPU time) and its samples
are grouped by what the code does (:data:`KINDS`): the profile walk's slicing, bindings,
reference and invariant checks apart from its walk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable

CONTRACT = "https://jiayi.dev/fhir/StructureDefinition/jiayi-contract"

# (kind, file path part, function names or None for any): the innermost matching frame wins
KINDS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("JSON schema", "validation/schema.py", None),
    ("profile: slicing", "validation/slicing.py", None),
    ("profile: slicing", "validation/profile.py", ("sliced", "unsliced", "<genexpr>")),
    ("profile: extensions", "validation/profile.py", ("free_extension", "check_context")),
    ("profile: bindings", "validation/profile.py", ("binding",)),
    ("profile: bindings", "validation/valuesets.py", None),
    ("profile: references", "validation/profile.py", ("reference", "_resolve_item", "conforms")),
    ("profile: invariants", "validation/profile.py", ("invariants",)),
    ("invariants: compiled FHIRPath (base and profile)", "validation/invariant_compiler.py", None),
    ("invariants: compiled FHIRPath (base and profile)", "validation/invariant_values.py", None),
    ("invariants: compiled FHIRPath (base and profile)", "validation/invariant_functions.py", None),
    ("invariants: native (per-1, qty-3, jiayi-ctr-1, jiayi-ctr-3)", "validation/native_invariants.py", None),
    ("invariants: FHIRPath engine", "core/fhirpath", None),
    ("profile: walk", "validation/profile.py", None),
    ("profile: walk", "validation/node_plan.py", None),
    ("base invariants", "validation/base_invariants.py", None),
    ("base invariants", "validation/invariants.py", None),
    ("structure: bindings and codes", "validation/bindings.py", None),
    ("structure: bindings and codes", "validation/codes.py", None),
    ("structure: primitives", "validation/primitives.py", None),
    ("structure: references", "validation/references.py", None),
    ("structure walk", "validation/walker.py", None),
    ("extensions walk", "validation/extensions.py", None),
    ("extension holders (the pass that marks where extensions are)", "validation/core_extensions.py",
     ("extension_holders", "mark_holders")),
    ("core extensions walk", "validation/core_extensions.py", None),
    ("deduplication, the rest", "validation/", None),
)


def district_sample(residents: int, resource_type: str = "Contract") -> list[dict]:
    from benchmarks.dataset import Dataset

    dataset = Dataset(residents=residents, seed=7, as_of=dt.date(2026, 12, 1), bundle_size=500)
    for _bundle in dataset.bundles():
        pass
    return [r for r in dataset.samples.validation if r["resourceType"] == resource_type]


def contracts(residents: int) -> list[dict]:
    return district_sample(residents, "Contract")


def steps() -> dict[str, Callable[[dict], object]]:
    from fhir_server.validation.base_invariants import base_invariant_issues
    from fhir_server.validation.core_extensions import core_extension_issues
    from fhir_server.validation.extensions import extension_issues
    from fhir_server.validation.on_write import write_validation
    from fhir_server.validation.profiles import _validator, validate_profile
    from fhir_server.validation.resource import _validate, validate_resource
    from fhir_server.validation.schema import schema_issues
    from fhir_server.validation.walker import walk

    validator = _validator()
    hook = write_validation(validator)

    def no_resolve(_ref: str) -> None:
        return None

    def write(resource: dict) -> object:
        return validate_resource(resource, resource["resourceType"]), hook(resource)

    return {
        "validate jiayi-contract": lambda r: validate_profile(r, CONTRACT),
        "JSON schema": lambda r: schema_issues(r, "Contract", "Contract"),
        "structure walk": lambda r: walk(r, "Contract", "Contract", lambda inner, loc: _validate(inner, None, loc)),
        "base invariants": lambda r: base_invariant_issues(r, "Contract"),
        "profile walk": lambda r: validator.profile_issues(r, [CONTRACT], "Contract", no_resolve, False),
        "extensions walk": lambda r: extension_issues(validator.conformance, r, "Contract", no_resolve),
        "core extensions walk": lambda r: core_extension_issues(r, "Contract", validator._known_extension),
        "write: structure + write hook": write,
    }


def cpu_per_item(function: Callable[[dict], object], sample: list[dict], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for resource in sample:
            function(resource)
        best = min(best, time.process_time() - started)
    return best / len(sample)


def kind_of(path: str, function: str) -> str | None:
    path = path.replace("\\", "/")
    for kind, part, functions in KINDS:
        if part in path and (functions is None or function in functions):
            return kind
    return None


def profile(function: Callable[[dict], object], sample: list[dict], rounds: int) -> Counter[str]:
    """CPU seconds per kind (:data:`KINDS`) over ``rounds`` passes under pyinstrument."""
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    get_stack_sampler().timer_func = time.process_time
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(rounds):
        for resource in sample:
            function(resource)
    profiler.stop()
    totals: Counter[str] = Counter()
    root = profiler.last_session.root_frame()
    stack = [(root, "outside validation")] if root is not None else []
    while stack:
        frame, inherited = stack.pop()
        kind = kind_of(frame.file_path or "", frame.function or "") or inherited
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            totals[kind] += own
        stack.extend((child, kind) for child in frame.children)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="Also the pyinstrument breakdown by kind.")
    args = parser.parse_args()
    sample = contracts(args.residents)
    table = steps()
    for function in table.values():
        function(sample[0])  # compiled once per process, as on a running server
    errors = sum(1 for r in sample for i in table["validate jiayi-contract"](r) if i.is_error)  # type: ignore[attr-defined]
    print(f"{len(sample)} Contracts of a {args.residents}-resident district, {errors} errors; "
          f"CPU µs per Contract (best of {args.rounds}):")
    for name, function in table.items():
        cost = cpu_per_item(function, sample, args.rounds)
        print(f"| {name} | {cost * 1e6:,.0f} | {1 / cost:,.0f}/s |")
    patients = district_sample(args.residents, "Patient")
    cost = cpu_per_item(table["write: structure + write hook"], patients, args.rounds)
    print(f"| write: structure + write hook, {len(patients)} Patients (jiayi-patient) | {cost * 1e6:,.0f} | "
          f"{1 / cost:,.0f}/s |")
    if args.profile:
        totals = profile(table["validate jiayi-contract"], sample, args.rounds)
        whole = sum(totals.values())
        print(f"pyinstrument, validate jiayi-contract, share of {whole:.2f} CPU s:")
        for kind, seconds in totals.most_common():
            print(f"| {kind} | {100 * seconds / whole:.0f}% |")


if __name__ == "__main__":
    main()
