#!/usr/bin/env python3
"""Trim the official FHIR R4 definition bundles down to the facts the validator needs.

Reads  ../shared/reference/fhir-r4/{profiles-resources,profiles-types,valuesets,v3-codesystems}.json
Writes data/fhir-r4/definitions.json (minified) and data/fhir-r4/LICENSE.md.

Output format (all keys short to keep the file small):
{
  "version": "4.0.1",
  "resources": ["Account", ...],            # every non-abstract R4 resource type, sorted
  "types": {                                 # resources and complex datatypes
    "Patient": {"kind": "resource", "elements": [E, ...]},
    "SimpleQuantity": {"kind": "complex-type", "json": "Quantity", "elements": [...]},
    ...
  },
  "valuesets": {"<canonical url>": {"<system>": ["code", ...], ...}, ...}
}
E = {"p": "Patient.contact.name",  # element path (root element of the type excluded)
     "n": 0,                        # min cardinality (omitted when 0)
     "x": "*",                      # max cardinality (omitted when "1")
     "s": 1,                        # isSummary (omitted when false): kept by _summary=true
     "t": ["HumanName", "Reference(Patient|Group)", ...],  # allowed types; Reference targets
     "b": "<value set url>",        # required binding, only when expandable (omitted otherwise)
     "c": "Questionnaire.item"}     # contentReference target path (then "t" is omitted)

Usage: python3 scripts/trim-fhir-definitions.py [--src DIR] [--out DIR]
Stdlib only; the build never runs this script (the output is committed).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SD_BASE = "http://hl7.org/fhir/StructureDefinition/"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Time": "time",
}
# Quantity profiles used via type.profile rather than as their own type code.
QUANTITY_PROFILES = {SD_BASE + "SimpleQuantity": "SimpleQuantity", SD_BASE + "MoneyQuantity": "MoneyQuantity"}


def load_bundle(path):
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    return [e["resource"] for e in bundle.get("entry", []) if "resource" in e]


def type_code(t):
    code = t["code"]
    if code in SYSTEM_TYPES:
        for ext in t.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri")
        return SYSTEM_TYPES[code]
    return code


class Terminology:
    """Expands value sets from the bundled CodeSystems / ValueSets."""

    def __init__(self, resources):
        self.code_systems = {}
        self.value_sets = {}
        for r in resources:
            url = r.get("url")
            if not url:
                continue
            if r["resourceType"] == "CodeSystem":
                self.code_systems.setdefault(url, r)
            elif r["resourceType"] == "ValueSet":
                self.value_sets.setdefault(url, r)
        self.cache = {}
        self.failures = {}

    @staticmethod
    def _flatten(concepts, out):
        for c in concepts or []:
            out.append(c)
            Terminology._flatten(c.get("concept"), out)

    @staticmethod
    def _descendants(concepts, code, include_self):
        """Codes at or under `code` in the concept hierarchy (None when code is absent)."""
        for c in concepts or []:
            if c["code"] == code:
                out = []
                Terminology._flatten(c.get("concept"), out)
                codes = [x["code"] for x in out]
                return ([code] if include_self else []) + codes
            found = Terminology._descendants(c.get("concept"), code, include_self)
            if found is not None:
                return found
        return None

    def _system_codes(self, system, url):
        cs = self.code_systems.get(system)
        if cs is None:
            raise ValueError(f"code system {system} not bundled")
        if cs.get("content") != "complete":
            raise ValueError(f"code system {system} content is {cs.get('content')}")
        return cs

    def expand(self, url, stack=()):
        """Returns {system: [codes]} or raises ValueError when not expandable."""
        url = url.split("|")[0]
        if url in self.cache:
            return self.cache[url]
        if url in stack:
            raise ValueError(f"value set cycle at {url}")
        vs = self.value_sets.get(url)
        if vs is None:
            raise ValueError("value set not bundled")
        compose = vs.get("compose")
        if not compose:
            raise ValueError("value set has no compose")
        result = {}

        def add(system, codes):
            bucket = result.setdefault(system, [])
            seen = set(bucket)
            for code in codes:
                if code not in seen:
                    bucket.append(code)
                    seen.add(code)

        for inc in compose.get("include", []):
            system = inc.get("system")
            parts = []
            for ref in inc.get("valueSet", []):
                parts.append(self.expand(ref, stack + (url,)))
            if system:
                if "concept" in inc:
                    codes = {system: [c["code"] for c in inc["concept"]]}
                elif "filter" in inc:
                    cs = self._system_codes(system, url)
                    codes = None
                    for flt in inc["filter"]:
                        op = flt.get("op")
                        if flt.get("property") == "concept" and op in ("is-a", "descendent-of"):
                            found = self._descendants(cs.get("concept"), flt.get("value"), op == "is-a")
                            if found is None:
                                raise ValueError(f"filter value {flt.get('value')} not in {system}")
                        else:
                            raise ValueError(f"unsupported filter {flt.get('property')} {op}")
                        codes = found if codes is None else [c for c in codes if c in set(found)]
                    codes = {system: codes or []}
                else:
                    cs = self._system_codes(system, url)
                    out = []
                    self._flatten(cs.get("concept"), out)
                    codes = {system: [c["code"] for c in out]}
                parts.append(codes)
            if not parts:
                raise ValueError("empty include")
            # Intersection of the parts (FHIR semantics: all conditions of one include apply).
            merged = parts[0]
            for other in parts[1:]:
                merged = {
                    s: [c for c in cs_codes if c in set(other.get(s, []))]
                    for s, cs_codes in merged.items()
                    if s in other
                }
            for system_name, codes in merged.items():
                add(system_name, codes)
        for exc in compose.get("exclude", []):
            system = exc.get("system")
            if system and "concept" in exc and system in result:
                drop = {c["code"] for c in exc["concept"]}
                result[system] = [c for c in result[system] if c not in drop]
            else:
                raise ValueError("unsupported exclude")
        if not any(result.values()):
            raise ValueError("expansion is empty")
        self.cache[url] = result
        return result


def children_map(elements):
    """Set of paths that have child elements in the snapshot."""
    parents = set()
    for el in elements:
        path = el["path"]
        if "." in path:
            parents.add(path.rsplit(".", 1)[0])
    return parents


INHERITED_CHILDREN = ("id", "extension", "modifierExtension")


def element_sig(el):
    return (el.get("min"), el.get("max"), tuple(type_code(t) for t in el.get("type", [])),
            el.get("contentReference"))


def rebuild_from_differential(sd):
    """Snapshot rebuilt from the differential: inherited Resource/DomainResource elements and the
    id/extension/modifierExtension of backbone elements come from the snapshot, everything else from
    the differential (overlaid on the snapshot element of the same path when there is one)."""
    snap = {el["path"]: el for el in sd["snapshot"]["element"]}
    diff = sd["differential"]["element"]
    root = diff[0]["path"]
    out = [snap[root]]
    seen = {root}
    for el in sd["snapshot"]["element"][1:]:
        base = el.get("base", {}).get("path", "")
        if el["path"].count(".") == 1 and base.split(".")[0] in ("Resource", "DomainResource"):
            out.append(el)
            seen.add(el["path"])
    for d in diff[1:]:
        merged = dict(snap.get(d["path"], {}))
        merged.update(d)
        merged.setdefault("min", 0)
        merged.setdefault("max", "1")
        if d["path"] not in seen:
            out.append(merged)
            seen.add(d["path"])
        if any(type_code(t) in ("BackboneElement", "Element") for t in merged.get("type", [])):
            for child in INHERITED_CHILDREN:
                path = d["path"] + "." + child
                if path in snap:
                    el = snap[path]
                else:
                    el = {"path": path, "min": 0, "max": "1" if child == "id" else "*",
                          "type": [{"code": "string" if child == "id" else "Extension"}]}
                out.append(el)
                seen.add(path)
    return out


def snapshot_disagrees(sd, rebuilt):
    a = {el["path"]: element_sig(el) for el in sd["snapshot"]["element"]}
    b = {el["path"]: element_sig(el) for el in rebuilt}
    return a != b


def trim_structure(sd, name, terminology, bindings, skipped, elements=None):
    elements = elements or sd["snapshot"]["element"]
    root = elements[0]["path"]
    out = []
    is_resource = sd["kind"] == "resource"
    for el in elements[1:]:
        path = el["path"]
        if root != name:  # constraint profiles (SimpleQuantity) keep the base type's paths
            path = name + path[len(root):]
        entry = {"p": path}
        if el.get("min", 0):
            entry["n"] = el["min"]
        if el.get("max", "1") != "1":
            entry["x"] = el["max"]
        if el.get("isSummary"):
            entry["s"] = 1
        if "contentReference" in el:
            ref = el["contentReference"].lstrip("#")
            if root != name:
                ref = name + ref[len(root):]
            entry["c"] = ref
        else:
            types = []
            for t in el.get("type", []):
                code = type_code(t)
                # R4 snapshots type Resource.id as System.String/"string"; the spec says `id`.
                if is_resource and path == f"{name}.id":
                    code = "id"
                if code == "Quantity":
                    for prof in t.get("profile", []):
                        code = QUANTITY_PROFILES.get(prof, code)
                if code in ("Reference", "canonical") and t.get("targetProfile"):
                    targets = [p[len(SD_BASE):] if p.startswith(SD_BASE) else p for p in t["targetProfile"]]
                    if code == "Reference":
                        code = "Reference(" + "|".join(targets) + ")"
                types.append(code)
            entry["t"] = types
        binding = el.get("binding")
        if binding and binding.get("strength") == "required" and binding.get("valueSet"):
            url = binding["valueSet"].split("|")[0]
            try:
                bindings[url] = terminology.expand(url)
                entry["b"] = url
            except ValueError as err:
                skipped.setdefault(url, (str(err), []))[1].append(el["path"])
        out.append(entry)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(ROOT, "..", "shared", "reference", "fhir-r4"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "fhir-r4"))
    args = ap.parse_args()
    src = os.path.abspath(args.src)

    resources = load_bundle(os.path.join(src, "profiles-resources.json"))
    types = load_bundle(os.path.join(src, "profiles-types.json"))
    term_sources = load_bundle(os.path.join(src, "valuesets.json"))
    term_sources += load_bundle(os.path.join(src, "v3-codesystems.json"))
    terminology = Terminology(term_sources)

    # The authoritative list of R4 resource types is CodeSystem resource-types minus the abstract ones.
    rt_codes = None
    rt = terminology.code_systems.get("http://hl7.org/fhir/resource-types")
    if rt:
        rt_codes = {c["code"] for c in rt["concept"]} - {"Resource", "DomainResource"}

    out_types = {}
    bindings = {}
    skipped = {}
    resource_names = []
    rebuilt_resources = []
    for sd in resources:
        if sd["resourceType"] != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        if sd.get("abstract"):
            continue
        name = sd["id"]
        resource_names.append(name)
        elements = None
        rebuilt = rebuild_from_differential(sd)
        if snapshot_disagrees(sd, rebuilt):
            rebuilt_resources.append(name)
            elements = rebuilt
        out_types[name] = {"kind": "resource",
                           "elements": trim_structure(sd, name, terminology, bindings, skipped, elements)}
    for sd in types:
        if sd["resourceType"] != "StructureDefinition" or sd.get("kind") != "complex-type":
            continue
        name = sd["id"]
        entry = {"kind": "complex-type", "elements": trim_structure(sd, name, terminology, bindings, skipped)}
        if sd.get("type") and sd["type"] != name:
            entry["json"] = sd["type"]
        out_types[name] = entry
    resource_names.sort()
    if rt_codes is not None and set(resource_names) != rt_codes:
        sys.exit(f"resource list mismatch: {sorted(set(resource_names) ^ rt_codes)}")

    doc = {
        "version": "4.0.1",
        "resources": resource_names,
        "types": out_types,
        "valuesets": {url: bindings[url] for url in sorted(bindings)},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "definitions.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
        f.write("\n")

    lines = [
        "# FHIR R4 definitions (trimmed)",
        "",
        "`definitions.json` is generated by `scripts/trim-fhir-definitions.py` from the official HL7 FHIR",
        "R4 (4.0.1) definition bundles in `../shared/reference/fhir-r4` (`profiles-resources.json`,",
        "`profiles-types.json`, `valuesets.json`, `v3-codesystems.json`). It keeps only: the resource type",
        "list, for every resource and complex datatype each element's path, cardinality, types (with",
        "Reference target resource types) and contentReference, and the expanded codes of every",
        "required-strength binding that can be expanded from the bundled CodeSystems/ValueSets.",
        "Do not edit it by hand; re-run the script.",
        "",
        "## Licence",
        "",
        "HL7 publishes the FHIR specification and its definition files under CC0 (public domain",
        "dedication). FHIR® is the registered trademark of HL7 and is used with the permission of HL7.",
        "The facts in `definitions.json` are taken from those files; this note is kept with them.",
        "Source provenance of the input bundles is described in `../shared/reference/fhir-r4/README.md`.",
        "",
        "## Deliberate deviations from the snapshots",
        "",
        "- `<Resource>.id` is typed `id` (the R4 snapshots say System.String with fhir-type `string`,",
        "  the specification text says `id`).",
        "- `Quantity` elements profiled to SimpleQuantity / MoneyQuantity use those types",
        "  (SimpleQuantity forbids `comparator`).",
        "- Resources whose snapshot disagrees with their differential (R5 content patched into the",
        "  redistributed copy) are rebuilt from the differential: " + (", ".join(rebuilt_resources) or "none") + ".",
        "- Invariants (FHIRPath constraints) are not included; they belong to a FHIRPath engine.",
        "",
        f"## Required bindings not expanded ({len(skipped)} value sets; not checked by the validator)",
        "",
    ]
    for url in sorted(skipped):
        reason, paths = skipped[url]
        lines.append(f"- {url} — {reason} (used by {', '.join(sorted(set(paths))[:4])}"
                     + (", ..." if len(set(paths)) > 4 else "") + ")")
    lines.append("")
    with open(os.path.join(args.out, "LICENSE.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    size = os.path.getsize(os.path.join(args.out, "definitions.json"))
    print(f"{len(resource_names)} resources, {len(out_types)} types, {len(bindings)} value sets, "
          f"{len(skipped)} skipped, {size} bytes; rebuilt from differential: {rebuilt_resources}")


if __name__ == "__main__":
    main()
