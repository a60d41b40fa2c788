"""Build the Jiayi implementation guide (SPEC §3, Appendix A) from the source tables in profiles/src/.

    python scripts/build_ig.py            # writes profiles/*.json, mappings/*.json and the packaged bundle
    python scripts/build_ig.py --check    # exits 1 when a generated file is out of date

Inputs: profiles/src/*.yaml (readable tables), the official R4 definitions in
../shared/fhir-r4 (or JIAYI_FHIR_R4_DIR) for the snapshots and for checking ConceptMap
targets.  Output is deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ig_snapshot
from ig_examples import examples
from ig_mappings import concept_maps
from ig_tests import test_scripts

from fhir_server.definitions.ig import bundle_of, concept_maps_in
from fhir_server.familydoctor.measures.catalog import all_measures

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "profiles" / "src"
BASE = "https://jiayi.dev/fhir"
SD, CS, VS = BASE + "/StructureDefinition/", BASE + "/CodeSystem/", BASE + "/ValueSet/"
R4 = "http://hl7.org/fhir/StructureDefinition/"
VERSION = "0.1.0"
DATE = "2026-12-01"
PUBLISHER = "Jiayi (家医) project"
GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def load(name: str):
    return yaml.safe_load((SRC / name).read_text(encoding="utf-8"))


def camel(ident: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in ident.replace(".", "-").split("-"))


def common(resource_type: str, rid: str, title: str, description: str, url: str | None = None) -> dict:
    res = {"resourceType": resource_type, "id": rid}
    if url is not None:
        res["url"] = url
        res["version"] = VERSION
    res.update(name=camel(rid), title=title, status="active", experimental=False, date=DATE,
               publisher=PUBLISHER, description=description)
    return res


def gb11643_expression() -> str:
    """FHIRPath for: ``value`` is a 15-digit legacy number or 18 characters with a valid check digit."""
    total = " + ".join(f"value.substring({i}, 1).toInteger() * {w}" for i, w in enumerate(GB11643_WEIGHTS))
    return (f"value.matches('^[0-9]{{15}}$') or (value.matches('^[0-9]{{17}}[0-9X]$') and "
            f"'10X98765432'.substring(({total}) mod 11, 1) = value.substring(17, 1))")


# --- terminology ---------------------------------------------------------------------------

def concept_rows(rows: list) -> list[dict]:
    out = []
    for row in rows:
        if isinstance(row, list):
            row = {"code": str(row[0]), "zh": row[1], "en": row[2]}
        out.append({**row, "code": str(row["code"])})
    return out


def code_system(spec: dict) -> dict:
    rows = concept_rows(spec["concepts"])
    by_code: dict[str, dict] = {}
    top: list[dict] = []
    has_form = any("form" in r for r in rows)
    for r in rows:
        c: dict = {"code": r["code"], "display": r["zh"],
                   "designation": [{"language": "zh", "value": r["zh"]}, {"language": "en", "value": r["en"]}]}
        if "old" in r:
            c["designation"].append({"language": "zh", "use": {"code": "GB 3304-1991"}, "value": r["old"]})
        if "definition" in r:
            c["definition"] = r["definition"]
        if "form" in r:
            c["property"] = [{"code": "form-code", "valueString": r["form"]}]
        by_code[r["code"]] = c
        if "parent" in r:
            by_code[str(r["parent"])].setdefault("concept", []).append(c)
        else:
            top.append(c)
    cs = common("CodeSystem", spec["id"], spec["title"], spec["description"], CS + spec["id"])
    if "oid" in spec:
        cs["identifier"] = [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:" + spec["oid"]}]
    cs.update(language="zh", caseSensitive=True, valueSet=VS + spec["id"])
    if any("parent" in r for r in rows):
        cs["hierarchyMeaning"] = "is-a"
    cs.update(content="complete", count=len(rows))
    if has_form:
        cs["property"] = [{"code": "form-code", "description": "The code on the national paper form", "type": "string"}]
    cs["concept"] = top
    return cs


def all_codes_value_set(cs: dict) -> dict:
    vs = common("ValueSet", cs["id"], cs["title"], f"Every code of {cs['url']}.", VS + cs["id"])
    vs["compose"] = {"include": [{"system": cs["url"]}]}
    return vs


def _system(ref: str) -> str:
    return ref if "://" in ref or ref.startswith("urn:") else CS + ref


def value_set(spec: dict) -> dict:
    vs = common("ValueSet", spec["id"], spec["title"], spec["description"], VS + spec["id"])

    def part(item: dict) -> dict:
        out: dict = {}
        if "system" in item:
            out["system"] = _system(item["system"])
        if "concepts" in item:
            out["concept"] = [{"code": str(c)} for c in item["concepts"]]
        if "filter" in item:
            out["filter"] = [{**f, "value": str(f["value"])} for f in item["filter"]]
        if "valueSet" in item:
            out["valueSet"] = [VS + v for v in item["valueSet"]]
        return out

    vs["compose"] = {"include": [part(i) for i in spec["include"]]}
    if spec.get("exclude"):
        vs["compose"]["exclude"] = [part(i) for i in spec["exclude"]]
    return vs


# --- structure definitions --------------------------------------------------------------------

def _target(t: str) -> str:
    return SD + t if t.startswith("jiayi-") else R4 + t


def _binding(ref: str | dict) -> dict:
    if isinstance(ref, dict):
        return {"strength": ref.get("strength", "required"), "valueSet": _value_set_url(ref["valueSet"])}
    return {"strength": "required", "valueSet": _value_set_url(ref)}


def _value_set_url(ref: str) -> str:
    return ref if "://" in ref else VS + ref


def differential_element(row: dict, base_types: dict[str, list[dict]]) -> dict:
    el_id = row["id"]
    el: dict = {"id": el_id, "path": ig_snapshot._unsliced(el_id)}
    if ":" in el_id.rsplit(".", 1)[-1]:
        el["sliceName"] = el_id.rsplit(":", 1)[1]
    for key in ("short", "slicing", "min", "max"):
        if key in row:
            el[key] = row[key]
    if "types" in row or "targets" in row:
        codes = row.get("types") or [t["code"] for t in base_types.get(el["path"], [])]
        types = []
        for code in codes:
            t: dict = {"code": code}
            if code == "Reference" and "targets" in row:
                t["targetProfile"] = [_target(x) for x in row["targets"]]
            types.append(t)
        el["type"] = types
    for key, value in row.items():
        if key.startswith(("fixed", "pattern")):
            el[key] = value
    if "binding" in row:
        el["binding"] = _binding(row["binding"])
    if "constraint" in row:
        el["constraint"] = [{"key": c["key"], "severity": c.get("severity", "error"), "human": c["human"],
                             "expression": c["expression"].replace("{GB11643}", gb11643_expression())}
                            for c in row["constraint"]]
    return el


def extension_slices(specs: list[dict]) -> list[dict]:
    out, sliced = [], set()
    for s in specs:
        at = s["at"]
        if at not in sliced:
            sliced.add(at)
            out.append({"id": f"{at}.extension", "path": f"{at}.extension",
                        "slicing": {"discriminator": [{"type": "value", "path": "url"}], "ordered": False,
                                    "rules": "open"}})
        el = {"id": f"{at}.extension:{s['name']}", "path": f"{at}.extension", "sliceName": s["name"],
              "min": s.get("min", 0), "max": s.get("max", "1"),
              "type": [{"code": "Extension", "profile": [SD + s["url"]]}]}
        out.append(el)
    return out


def _base_types(base_sd: dict) -> dict[str, list[dict]]:
    return {el["path"]: el.get("type", []) for el in base_sd["snapshot"]["element"]}


def structure_definition(spec: dict, defs: ig_snapshot.BaseDefinitions, *, kind: str, base_type: str,
                         differential: list[dict], context: list[str] | None = None) -> dict:
    url = SD + spec["id"]
    sd = common("StructureDefinition", spec["id"], spec["title"], spec.get("description", spec["title"]), url)
    sd.update(fhirVersion="4.0.1", kind=kind, abstract=False)
    if context:
        sd["context"] = [{"type": "element", "expression": c} for c in context]
    base_url = R4 + base_type
    sd.update(type=base_type, baseDefinition=base_url, derivation="constraint")
    sd["snapshot"] = {"element": ig_snapshot.generate(defs.by_url[base_url], differential, defs, url)}
    sd["differential"] = {"element": differential}
    return sd


def profile(spec: dict, defs: ig_snapshot.BaseDefinitions) -> dict:
    base_sd = defs.by_url[R4 + spec["base"]]
    types = _base_types(base_sd)
    rows = [differential_element(r, types) for r in spec.get("elements", [])]
    ext = extension_slices(spec.get("extensions", []))
    # differential order follows the snapshot's: element rows first at their place, then slices
    order = {el["id"]: i for i, el in enumerate(base_sd["snapshot"]["element"])}
    merged: dict[str, dict] = {}
    for el in rows + ext:
        merged.setdefault(el["id"], {}).update(el)
    slices = {el["id"]: i for i, el in enumerate(rows + ext)}
    diff = sorted(merged.values(), key=lambda e: _order_key(e["id"], order, slices))
    return structure_definition(spec, defs, kind="resource", base_type=spec["base"], differential=diff)


def _order_key(element_id: str, order: dict[str, int], slices: dict[str, int]) -> tuple:
    """Sort differential elements in snapshot order: by their base element, slices after it in source order."""
    parts = element_id.split(".")
    key: list = []
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(p.split(":", 1)[0] for p in parts[:depth])
        is_slice = ":" in parts[depth - 1]
        slice_pos = slices.get(".".join(parts[:depth]), 10_000) if is_slice else -1
        key.append((order.get(prefix, 10_000), slice_pos))
    return tuple(key)


def extension(spec: dict, defs: ig_snapshot.BaseDefinitions) -> dict:
    diff: list[dict] = [{"id": "Extension", "path": "Extension", "short": spec["title"],
                         "definition": spec.get("description", spec["title"])}]
    if "parts" in spec:
        diff.append({"id": "Extension.extension", "path": "Extension.extension", "min": 1,
                     "slicing": {"discriminator": [{"type": "value", "path": "url"}], "ordered": False,
                                 "rules": "open"}})
        for p in spec["parts"]:
            sid = f"Extension.extension:{p['name']}"
            diff.append({"id": sid, "path": "Extension.extension", "sliceName": p["name"], "short": p["title"],
                         "min": 1, "max": "1"})
            diff.append({"id": f"{sid}.extension", "path": "Extension.extension.extension", "max": "0"})
            diff.append({"id": f"{sid}.url", "path": "Extension.extension.url", "fixedUri": p["name"]})
            diff.append(_value_element(f"{sid}.value[x]", "Extension.extension.value[x]", p))
        diff.append({"id": "Extension.url", "path": "Extension.url",
                     "fixedUri": SD + spec.get("instanceUrl", spec["id"])})
        diff.append({"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"})
    else:
        diff.append({"id": "Extension.extension", "path": "Extension.extension", "max": "0"})
        diff.append({"id": "Extension.url", "path": "Extension.url",
                     "fixedUri": SD + spec.get("instanceUrl", spec["id"])})
        diff.append(_value_element("Extension.value[x]", "Extension.value[x]", spec))
    return structure_definition(spec, defs, kind="complex-type", base_type="Extension", differential=diff,
                                context=spec["context"])


def _value_element(el_id: str, path: str, spec: dict) -> dict:
    t: dict = {"code": spec["value"]}
    if spec.get("targets"):
        t["targetProfile"] = [_target(x) for x in spec["targets"]]
    el: dict = {"id": el_id, "path": path, "min": 1, "type": [t]}
    if "binding" in spec:
        el["binding"] = _binding(spec["binding"])
    return el


# --- naming systems, search parameters, operations --------------------------------------------

def naming_system(spec: dict) -> dict:
    ns = {"resourceType": "NamingSystem", "id": spec["id"], "name": camel(spec["id"]), "status": "active",
          "kind": "identifier", "date": DATE, "publisher": PUBLISHER, "responsible": spec["responsible"],
          "description": spec["description"]}
    if "type" in spec:
        ns["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": spec["type"]}]}
    ns["jurisdiction"] = [{"coding": [{"system": "urn:iso:std:iso:3166", "code": "CN"}]}]
    unique = [{"type": "uri", "value": spec["system"], "preferred": True}]
    if spec["system"].startswith("urn:oid:"):
        unique.append({"type": "oid", "value": spec["system"][8:], "preferred": False})
    for alias in spec.get("aliases", []):
        unique.append({"type": "uri", "value": alias, "preferred": False,
                       "comment": "alias accepted wherever the system is expected"})
        if alias.startswith("urn:oid:"):
            unique.append({"type": "oid", "value": alias[8:], "preferred": False})
    ns["uniqueId"] = unique
    return ns


def search_parameter(spec: dict) -> dict:
    sp = common("SearchParameter", spec["id"], spec["title"], spec["description"],
                BASE + "/SearchParameter/" + spec["id"])
    del sp["title"]
    sp["name"] = spec["code"]
    sp.update(code=spec["code"], base=spec["base"], type=spec["type"],
              expression=spec["expression"].replace("SD/", SD), xpathUsage="normal")
    if "target" in spec:
        sp["target"] = spec["target"]
    if spec["type"] == "reference":
        sp["modifier"] = ["missing", "type", "identifier"]
    return sp


def official(op: dict) -> dict:
    """A standard R4 OperationDefinition, copied from the official definitions (official URL)."""
    op = copy.deepcopy(op)
    op.pop("text", None)
    return op


def operation_definition(spec: dict) -> dict:
    od = common("OperationDefinition", spec["id"], spec["title"], spec["description"],
                BASE + "/OperationDefinition/" + spec["id"])
    od.update(kind="operation", code=spec["code"], affectsState=spec.get("affectsState", False),
              resource=spec["resource"], system=spec.get("system", False), type=spec.get("type", False),
              instance=spec.get("instance", False))
    if "base" in spec:
        od["base"] = spec["base"]
    params = []
    for p in spec["parameters"]:
        param: dict = {"name": p["name"], "use": p["use"], "min": p.get("min", 0), "max": str(p.get("max", "1"))}
        if "documentation" in p:
            param["documentation"] = p["documentation"]
        if "type" in p:
            param["type"] = p["type"]
        if p.get("targets"):
            param["targetProfile"] = [_target(t) for t in p["targets"]]
        if "binding" in p:
            param["binding"] = {"strength": "required", "valueSet": _value_set_url(p["binding"])}
        if "part" in p:
            param["part"] = [{"name": q["name"], "use": p["use"], "min": q.get("min", 0),
                              "max": str(q.get("max", "1")), "type": q["type"]} for q in p["part"]]
        params.append(param)
    od["parameter"] = params
    return od


# --- the guide ---------------------------------------------------------------------------------

def implementation_guide(resources: list[dict], example_resources: list[dict]) -> dict:
    ig = common("ImplementationGuide", "jiayi", "家医 Jiayi family-doctor implementation guide",
                "The Jiayi implementation guide for China's family-doctor contract services (家庭医生签约服务): "
                "profiles, extensions, terminology, identifier systems, search parameters and operations.",
                BASE + "/ImplementationGuide/jiayi")
    ig.update(packageId="dev.jiayi.fhir", license="Apache-2.0", fhirVersion=["4.0.1"])
    entries = []
    for r in resources:
        entries.append({"reference": {"reference": f"{r['resourceType']}/{r['id']}"},
                        "name": r.get("title") or r.get("name") or r["id"], "exampleBoolean": False})
    for r in example_resources:
        entry: dict = {"reference": {"reference": f"{r['resourceType']}/{r['id']}"}, "name": r["id"]}
        claimed = r.get("meta", {}).get("profile", [])
        if claimed:
            entry["exampleCanonical"] = claimed[0]
        else:
            entry["exampleBoolean"] = True
        entries.append(entry)
    ig["definition"] = {"resource": entries}
    return ig


def build(fhir_dir: Path) -> dict[Path, dict]:
    """Every generated file (relative path → resource)."""
    defs = ig_snapshot.BaseDefinitions(fhir_dir)
    out: list[dict] = []
    systems = [code_system(s) for s in load("codesystems.yaml")]
    out += systems
    out += [all_codes_value_set(cs) for cs in systems]
    out += [value_set(s) for s in load("valuesets.yaml")]
    out += [extension(s, defs) for s in load("extensions.yaml")]
    out += [profile(s, defs) for s in load("profiles.yaml")]
    out += [naming_system(s) for s in load("namingsystems.yaml")]
    out += [search_parameter(s) for s in load("searchparameters.yaml")]
    operations = load("operations.yaml")
    out += [operation_definition(s) for s in operations["jiayi"]]
    out += [official(defs.operations[i]) for i in operations["standard"]]
    questionnaire = load("questionnaire.yaml")
    out.append(questionnaire)
    out += all_measures(DATE)  # the assessment indicators (fhir_server/familydoctor/measures/catalog.py)
    ex = examples()
    files: dict[Path, dict] = {}
    for r in out:
        files[Path("profiles") / f"{r['resourceType']}-{r['id']}.json"] = r
    for r in ex:
        files[Path("profiles") / "examples" / f"{r['resourceType']}-{r['id']}.json"] = r
    # the conformance kit's TestScripts and fixtures (profiles/tests/; listed in the guide, not loaded by the server)
    tests = test_scripts(SRC / "tests", load("profiles.yaml"), ex)
    files.update(tests)
    ig = implementation_guide(out + [r for r in tests.values() if r.get("resourceType") == "TestScript"], ex)
    files[Path("profiles") / "ImplementationGuide-jiayi.json"] = ig
    for cm in concept_maps(systems, fhir_dir):
        files[Path("mappings") / f"ConceptMap-{cm['id']}.json"] = cm
    return files


def dumps(resource: dict) -> str:
    return json.dumps(resource, ensure_ascii=False, indent=2) + "\n"


def render(fhir_dir: Path, root: Path = ROOT) -> dict[Path, str]:
    """The generated files as text, plus the packaged bundle of everything under profiles/ and mappings/."""
    files = {path: dumps(res) for path, res in build(fhir_dir).items()}
    resources = [json.loads(text) for path, text in sorted(files.items(), key=lambda kv: str(kv[0]))
                 if path.parts[:2] != ("profiles", "tests")]
    for p in sorted((root / "mappings").rglob("*.json")):  # ConceptMaps the adapters' authors add
        if p.relative_to(root) not in files:
            resources += concept_maps_in(json.loads(p.read_text(encoding="utf-8")))
    bundle = bundle_of(resources)
    files[Path("fhir_server") / "definitions" / "data" / "ig.json"] = json.dumps(
        bundle, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    parser.add_argument("--fhir-dir",
                        default=os.environ.get("JIAYI_FHIR_R4_DIR", str(ROOT.parent / "shared" / "fhir-r4")))
    args = parser.parse_args()
    files = render(Path(args.fhir_dir))
    stale = [p for p, text in files.items()
             if not (ROOT / p).exists() or (ROOT / p).read_text(encoding="utf-8") != text]
    generated = {p for p in files if p.parts[0] == "profiles"}
    orphans = [p.relative_to(ROOT) for p in (ROOT / "profiles").rglob("*.json")
               if p.relative_to(ROOT) not in generated]
    if args.check:
        for p in stale + orphans:
            print(f"out of date: {p}")
        return 1 if stale or orphans else 0
    for p in orphans:
        (ROOT / p).unlink()
    for p in stale:
        (ROOT / p).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / p).write_text(files[p], encoding="utf-8")
    print(f"{len(files)} files, {len(stale)} written, {len(orphans)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
