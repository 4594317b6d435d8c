#!/usr/bin/env python3
"""Writes data/fhir-r4/search-parameters.json: the facts ucr's search needs from the R4
SearchParameter definitions (../shared/reference/fhir-r4/search-parameters.json) and the patient
CompartmentDefinition (compartmentdefinition-patient.json: which parameters put a resource in a
patient's compartment).

For every parameter: code, type, the resource types it applies to, its FHIRPath expression split
per base type (only the branches of a union that apply to that type), reference targets and
composite components. Run from the repository root; the output is committed.
"""
import json
import os
import sys

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "fhir-r4")
OUT = os.path.join(os.path.dirname(__file__), "..", "data", "fhir-r4", "search-parameters.json")


def split_union(expr):
    """Splits a FHIRPath expression at top-level '|' (outside parentheses and quotes)."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in expr:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def head_type(branch, resource_types):
    b = branch.lstrip("(").strip()
    name = ""
    for ch in b:
        if ch.isalnum():
            name += ch
        else:
            break
    return name if name in resource_types else None


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    with open(os.path.join(src, "search-parameters.json")) as f:
        bundle = json.load(f)
    with open(os.path.join(src, "profiles-resources.json")) as f:
        resources = json.load(f)
    resource_types = {
        e["resource"]["id"]
        for e in resources["entry"]
        if e["resource"].get("resourceType") == "StructureDefinition" and e["resource"].get("kind") == "resource"
    }
    resource_types |= {"Resource", "DomainResource"}
    by_url = {e["resource"]["url"]: e["resource"] for e in bundle["entry"]}
    out = []
    for e in bundle["entry"]:
        sp = e["resource"]
        if sp.get("type") == "special" and not sp.get("expression"):
            continue
        expr = sp.get("expression", "")
        branches = split_union(expr) if expr else []
        per_base = {}
        for base in sp["base"]:
            if base in ("Resource", "DomainResource"):
                per_base[base] = expr
                continue
            mine = [b for b in branches if head_type(b, resource_types) in (base, None, "Resource", "DomainResource")]
            if mine:
                per_base[base] = " | ".join(mine)
        item = {"code": sp["code"], "type": sp["type"], "expression": per_base}
        if sp.get("target"):
            item["target"] = sp["target"]
        if sp.get("component"):
            comps = []
            for c in sp["component"]:
                d = by_url.get(c["definition"])
                if d is None:
                    break
                comps.append({"code": d["code"], "type": d["type"], "expression": c["expression"]})
            else:
                # R4 publishes DocumentReference-relationship with its two component expressions
                # swapped (the reference component reads `code`, the token one `target`); the
                # elements' types (relatesTo.target is a Reference, relatesTo.code a code) settle it.
                if sp["code"] == "relationship" and [c["expression"] for c in comps] == ["code", "target"]:
                    comps[0]["expression"], comps[1]["expression"] = "target", "code"
                item["component"] = comps
        out.append(item)
    out.sort(key=lambda i: i["code"])
    with open(os.path.join(src, "compartmentdefinition-patient.json")) as f:
        cd = json.load(f)
    patient = {r["code"]: r["param"] for r in cd["resource"] if r.get("param")}
    with open(OUT, "w") as f:
        json.dump({"fhirVersion": "4.0.1", "parameters": out, "patientCompartment": patient}, f,
                  separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print(f"{len(out)} search parameters -> {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
