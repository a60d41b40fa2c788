"""The mapping tables of mappings/publichealth/, loaded once: forms, code lists, ConceptMaps.

* ``<type>.csv`` — one row per field of a form: key, Chinese column header, the header
  variants real exports use (``aliases``, separated by |), value type, required, code list,
  FHIR target and a note.  The readers find columns by these headers and variants (spaces,
  full-width forms and a unit in brackets ignored: :func:`header_key`), the normaliser
  converts by the type, the JSON Schema is derived from it and
  the mapping engine (the ``mapping`` package) writes and reads FHIR by the target column.
* the IG's CodeSystems (``profiles/CodeSystem-<id>.json``: GB/T 2261.1, GB 3304, GB/T 4761,
  team roles...) give the codes and Chinese names of the national and Jiayi tables;
* ``code-lists.csv`` — the form-only code lists (随访方式 1–3, 此次随访分类 1–4, 2011 variants...)
  and, for every list, the synonyms people type (男, 女性, 门诊...);
* ConceptMaps — every ``mappings/**/*.json`` (ours in ``conceptmaps/``, generated from
  code-lists.csv, and the IG's, e.g. GB/T 2261.1 → administrative-gender): form code → FHIR /
  Jiayi code and second-edition (2011) → 2017 codes.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field

from fhir_server.core.jiayi_names import CS, SD, SID

from ..data_files import mappings_dir, profiles_dir

MAPPINGS = mappings_dir("publichealth")
PROFILES = profiles_dir()  # the IG: national and Jiayi code systems (CodeSystem-<id>.json)
ABBREVIATIONS = {"CS/": CS, "SD/": SD, "SID/": SID}
RECORD_TYPES = ("resident", "contract", "team", "hypertension-follow-up", "diabetes-follow-up", "referral")
TITLES = {"resident": "个人基本信息表", "contract": "家庭医生签约协议", "team": "家庭医生团队",
          "hypertension-follow-up": "高血压患者随访服务记录表", "diabetes-follow-up": "2型糖尿病患者随访服务记录表",
          "referral": "双向转诊单"}


def expand(value: str) -> str:
    """``CS/x`` → ``https://jiayi.dev/fhir/CodeSystem/x`` (and SD/, SID/), anywhere in a target."""
    for short, full in ABBREVIATIONS.items():
        value = value.replace(" " + short, " " + full).replace("=" + short, "=" + full)
        if value.startswith(short):
            value = full + value[len(short):]
    return value


_BRACKETED = re.compile(r"\([^()]*\)$|\[[^\[\]]*\]$")


def header_key(text: str) -> str:
    """A column header as matched: NFKC (full-width → half-width), no spaces, lower case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def without_unit(key: str) -> str:
    """``收缩压(mmhg)`` → ``收缩压``: a trailing bracketed part (the unit) dropped."""
    return _BRACKETED.sub("", key)


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    header: str
    type: str
    required: bool
    codes: str  # the code list ("" for none)
    target: str  # expanded FHIR target ("path ...", "concept ...", "obs ...", "ref ...", "info")
    note: str
    aliases: tuple[str, ...] = ()  # header variants of real exports

    @property
    def kind(self) -> str:
        return self.target.split(" ", 1)[0]

    @property
    def args(self) -> list[str]:
        return self.target.split(" ")[1:]


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    display: str
    synonyms: tuple[str, ...]


@dataclass(slots=True)
class CodeList:
    name: str
    system: str
    codes: dict[str, Code] = field(default_factory=dict)
    lookup: dict[str, str] = field(default_factory=dict)  # code, display or synonym → code

    def resolve(self, text: str) -> str | None:
        return self.lookup.get(text) or self.lookup.get(text.lower())


@dataclass(frozen=True)
class Form:
    record_type: str
    title: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def by_key(self) -> dict[str, Field]:
        return {f.key: f for f in self.fields}

    @functools.cached_property
    def by_header(self) -> dict[str, Field]:
        """header_key of every header, field key and variant → the field (a form's own header wins)."""
        names: dict[str, Field] = {}
        for f in self.fields:
            for alias in f.aliases:
                names.setdefault(header_key(alias), f)
        for f in self.fields:
            names[header_key(f.key)] = f
        for f in self.fields:
            names[header_key(f.header)] = f
        return names

    def field_for(self, column: str) -> Field | None:
        """The field a column of a real export is: by its header or a variant, else without its unit."""
        key = header_key(column)
        found = self.by_header.get(key)
        if found is None and without_unit(key) != key:
            found = self.by_header.get(without_unit(key))
        return found

    def suggest(self, column: str) -> str | None:
        """The form header a column most likely meant (for "did you mean …?"), or None."""
        names = {header_key(f.header): f.header for f in self.fields}
        names.update({header_key(a): f.header for f in self.fields for a in f.aliases})
        close = difflib.get_close_matches(without_unit(header_key(column)), list(names), n=1, cutoff=0.5)
        return names[close[0]] if close else None


@functools.cache
def code_lists() -> dict[str, CodeList]:
    lists: dict[str, CodeList] = {}
    for path in sorted(PROFILES.glob("CodeSystem-*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        cl = lists.setdefault(resource["id"], CodeList(resource["id"], resource["url"]))
        stack = list(resource.get("concept", []))
        while stack:
            concept = stack.pop(0)
            cl.codes[concept["code"]] = Code(concept["code"], concept.get("display") or concept["code"], ())
            stack[0:0] = concept.get("concept", [])
    with (MAPPINGS / "code-lists.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            cl = lists.setdefault(row["list"], CodeList(row["list"], expand(row["system"])))
            synonyms = tuple(s for s in row["synonyms"].split("|") if s)
            known = cl.codes.get(row["code"])
            if known is not None:  # a code of the IG: the row only adds what people type
                cl.codes[row["code"]] = Code(known.code, known.display, known.synonyms + synonyms)
            else:
                cl.codes[row["code"]] = Code(row["code"], row["display"], synonyms)
    for cl in lists.values():
        for c in cl.codes.values():  # names and synonyms first, so a code always wins
            for alias in (c.display, *c.synonyms):
                cl.lookup.setdefault(alias, c.code)
                cl.lookup.setdefault(alias.lower(), c.code)
        for c in cl.codes.values():
            cl.lookup[c.code] = c.code
            if c.code.isdigit() and len(c.code) == 2 and c.code.startswith("0"):
                cl.lookup.setdefault(c.code[1:], c.code)  # "1" for "01"
    return lists


@functools.cache
def concept_maps() -> dict[tuple[str, str], dict]:
    """(source system, code) → target {system, code, display, equivalence, map} from every ConceptMap."""
    table: dict[tuple[str, str], dict] = {}
    for path in sorted(mappings_dir().rglob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if resource.get("resourceType") != "ConceptMap":
            continue
        for group in resource.get("group", []):
            for element in group.get("element", []):
                target = element["target"][0]
                table.setdefault((group["source"], element["code"]), {
                    "system": group["target"], "code": target["code"], "display": target.get("display"),
                    "equivalence": target.get("equivalence"), "map": resource["url"]})
    return table


def translate(system: str, code: str) -> dict | None:
    return concept_maps().get((system, code))


@functools.cache
def reverse_maps() -> dict[tuple[str, str, str], str]:
    """(source system, target system, target code) → source code (the first equivalent one)."""
    table: dict[tuple[str, str, str], str] = {}
    for (source, code), target in concept_maps().items():
        key = (source, target["system"], target["code"])
        if key not in table or target["equivalence"] == "equivalent":
            if key in table and concept_maps()[(source, table[key])]["equivalence"] == "equivalent":
                continue
            table[key] = code
    return table


@functools.cache
def form(record_type: str) -> Form:
    if record_type not in RECORD_TYPES:
        raise ValueError(f"unknown record type {record_type!r}; expected one of {', '.join(RECORD_TYPES)}")
    with (MAPPINGS / f"{record_type}.csv").open(encoding="utf-8", newline="") as handle:
        fields = tuple(Field(r["key"], r["header"], r["type"], r["required"] == "yes", r["codes"],
                             expand(r["fhir"]), r["note"], tuple(a for a in (r.get("aliases") or "").split("|") if a))
                       for r in csv.DictReader(handle))
    return Form(record_type, TITLES[record_type], fields)


_PATTERNS = {
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "idcard": r"^\d{17}[\dX]$",
    "record17": r"^\d{17}$",
    "phone": r"^[0-9+\-]{5,20}$",
    "uscc": r"^[0-9A-HJ-NP-RTUW-Y]{18}$",
}


@functools.cache
def schema(record_type: str) -> dict:
    """The JSON Schema (draft 2020-12) of a normalised record, derived from the form table."""
    f = form(record_type)
    lists = code_lists()
    props: dict[str, dict] = {}
    for fld in f.fields:
        if fld.type in ("int",):
            prop: dict = {"type": "integer", "minimum": 0}
        elif fld.type in ("decimal", "money"):
            prop = {"type": "number", "minimum": 0}
        elif fld.type == "codes":
            prop = {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"enum": sorted(lists[fld.codes].codes)}}
        elif fld.type == "code":
            prop = {"type": "string", "enum": sorted(lists[fld.codes].codes)}
        else:
            prop = {"type": "string", "minLength": 1}
            if fld.type in _PATTERNS:
                prop["pattern"] = _PATTERNS[fld.type]
        prop["title"] = fld.header
        props[fld.key] = prop
    if "edition" in props:
        props["edition"] = {"title": "表单版本", "enum": ["2011", "2017"]}
    result: dict = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://jiayi.dev/fhir/adapters/publichealth/{record_type}.schema.json",
              "title": f.title, "type": "object", "properties": props,
              "required": [fld.key for fld in f.fields if fld.required], "additionalProperties": False}
    if record_type in ("hypertension-follow-up", "diabetes-follow-up", "referral"):
        result["anyOf"] = [{"required": ["id_number"]}, {"required": ["record_no"]}]
    if record_type.endswith("follow-up"):
        result["dependentRequired"] = {"sbp": ["dbp"], "dbp": ["sbp"]}
    medicines: dict[tuple[str, ...], dict[str, str]] = {}
    for fld in f.fields:
        if fld.kind == "med":
            medicines.setdefault(tuple(fld.args[:2]), {})[fld.args[2]] = fld.key
    for parts in medicines.values():  # a dose names no drug without its 药物名称
        if "dosage" in parts and "name" in parts:
            result.setdefault("dependentRequired", {})[parts["dosage"]] = [parts["name"]]
    return result
