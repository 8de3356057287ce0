#!/usr/bin/env python3
"""Fails on a public symbol without a doc comment, over the symbol graphs of the documentation build.

    python3 scripts/docs-coverage.py DIR MODULE...   # DIR: searched for *.symbols.json

A symbol counts as documented when it has its own doc comment, or when DocC shows another's:
- a protocol witness or default implementation (its name is a requirement of a protocol its type
  conforms to, directly or through refinement; for the standard library's protocols, the names
  that STANDARD_REQUIREMENTS lists under a protocol the type conforms to), which shows the
  requirement's documentation;
- a member synthesized by the compiler or inherited from a protocol extension (no source location
  in this package);
- an initializer without parameters, `init()`: the value with its defaults, which the type's and
  the properties' documentation describe (the house rule: no template comments on obvious members);
- an enum case declared on the line of its documented enum.
Prints the coverage per module and every undocumented symbol (file:line, kind, path); exits 1 if
there is one. --report prints them without failing (for a list of what is missing).
"""
import json
import os
import sys
from collections import defaultdict

# Requirements of the standard library's, Foundation's and ArgumentParser's protocols, by protocol;
# DocC shows their documentation for a witness. A member is exempt by this table only when its type
# conforms to the protocol (the graphs' conformsTo relationships name external protocols in
# targetFallback, and list implied conformances: a RandomAccessCollection also conforms to Collection).
_COLLECTION = {"startIndex", "endIndex", "index(after:)", "index(_:offsetBy:)", "distance(from:to:)",
               "subscript(_:)", "count", "isEmpty", "Index", "Indices", "SubSequence", "indices"}
_SEQUENCE = {"makeIterator()", "Element", "Iterator", "underestimatedCount"}
_LITERAL = {
    "Swift.ExpressibleByIntegerLiteral": {"init(integerLiteral:)", "IntegerLiteralType"},
    "Swift.ExpressibleByFloatLiteral": {"init(floatLiteral:)", "FloatLiteralType"},
    "Swift.ExpressibleByStringLiteral": {"init(stringLiteral:)", "StringLiteralType"},
    "Swift.ExpressibleByArrayLiteral": {"init(arrayLiteral:)", "ArrayLiteralElement"},
    "Swift.ExpressibleByDictionaryLiteral": {"init(dictionaryLiteral:)", "Key", "Value"},
}
STANDARD_REQUIREMENTS = {
    "Swift.CustomStringConvertible": {"description"},
    "Swift.CustomDebugStringConvertible": {"debugDescription"},
    "Swift.LosslessStringConvertible": {"init(_:)", "description"},
    "Swift.Equatable": {"==(_:_:)", "!=(_:_:)"},
    "Swift.Comparable": {"<(_:_:)", "<=(_:_:)", ">(_:_:)", ">=(_:_:)"},
    "Swift.Hashable": {"hash(into:)", "hashValue"},
    "Swift.Decodable": {"init(from:)"},
    "Swift.Encodable": {"encode(to:)"},
    "Swift.Error": {"localizedDescription"},
    "Foundation.LocalizedError": {"errorDescription", "failureReason", "recoverySuggestion", "helpAnchor"},
    "Swift.RawRepresentable": {"rawValue", "init(rawValue:)", "RawValue"},
    "Swift.CaseIterable": {"allCases", "AllCases"},
    "Swift.Sequence": _SEQUENCE,
    "Swift.Collection": _COLLECTION | _SEQUENCE,
    "Swift.BidirectionalCollection": {"index(before:)"},
    "Swift.RandomAccessCollection": set(),
    "Swift.IteratorProtocol": {"next()", "Element"},
    "Swift.RandomNumberGenerator": {"next()", "next(_:)"},
    "Swift.CodingKey": {"stringValue", "intValue", "init(stringValue:)", "init(intValue:)"},
    "Swift.CodingKeyRepresentable": {"codingKey", "init(codingKey:)"},
    "ArgumentParser.ParsableArguments": {"validate()", "init()"},
    "ArgumentParser.ParsableCommand": {"run()", "validate()", "configuration"},
    "ArgumentParser.AsyncParsableCommand": {"run()"},
    **_LITERAL,
}


def load(directory, modules):
    """Symbols and relationships of each module, merged over its graphs (main and extensions)."""
    symbols = defaultdict(dict)          # module -> precise id -> symbol
    relationships = defaultdict(list)    # module -> relationships
    for root, _, files in os.walk(directory):
        for name in files:
            if not name.endswith(".symbols.json"):
                continue
            module = name[: -len(".symbols.json")].split("@")[0]
            if module not in modules:
                continue
            with open(os.path.join(root, name)) as f:
                graph = json.load(f)
            for s in graph.get("symbols", []):
                symbols[module].setdefault(s["identifier"]["precise"], s)
            relationships[module].extend(graph.get("relationships", []))
    return symbols, relationships


def undocumented(symbols, relationships):
    """The public symbols of one module that have no doc comment and inherit none."""
    parent = {}
    conforms = defaultdict(set)       # type or protocol id -> protocol ids
    requirement_names = defaultdict(set)  # protocol id -> requirement titles
    defaults = set()
    members = defaultdict(set)        # type or protocol id -> member ids
    for r in relationships:
        kind, source, target = r["kind"], r["source"], r["target"]
        if kind == "memberOf":
            parent[source] = target
            members[target].add(source)
            if "sourceOrigin" in r:   # the requirement (or inherited member) this one implements
                defaults.add(source)
        elif kind == "conformsTo":
            conforms[source].add(target)
        elif kind in ("requirementOf", "optionalRequirementOf"):
            requirement_names[target].add(source)
        elif kind == "defaultImplementationOf":
            defaults.add(source)
    all_symbols = {}
    for module_symbols in symbols:
        all_symbols.update(module_symbols)
    titles = {k: v["names"]["title"] for k, v in all_symbols.items()}
    for r in relationships:   # external protocols are not in the graphs: their names from the fallback
        if r["kind"] == "conformsTo" and "targetFallback" in r:
            titles.setdefault(r["target"], r["targetFallback"])
    kinds = {k: v["kind"]["identifier"] for k, v in all_symbols.items()}
    # A protocol's associated types are its members (not "requirementOf"); they are requirements too.
    for owner, ms in members.items():
        if kinds.get(owner) == "swift.protocol":
            requirement_names[owner] |= {m for m in ms if kinds.get(m) == "swift.associatedtype"}
    every_requirement = {titles.get(r, "") for rs in requirement_names.values() for r in rs}

    def protocols(type_id, seen=None):
        seen = set() if seen is None else seen
        for p in conforms.get(type_id, ()):
            if p not in seen:
                seen.add(p)
                protocols(p, seen)
        return seen

    missing = []
    for precise, s in symbols[0].items():
        if s.get("docComment", {}).get("lines"):
            continue
        if "::SYNTHESIZED::" in precise or "location" not in s:
            continue
        kind = s["kind"]["identifier"]
        if kind in ("swift.extension",):
            continue
        if precise in defaults:
            continue
        title = s["names"]["title"]
        if title == "init()":
            continue
        owner_symbol = all_symbols.get(parent.get(precise, ""), {})
        if (kind == "swift.enum.case" and owner_symbol.get("docComment", {}).get("lines")
                and owner_symbol.get("location", {}).get("position", {}).get("line") == s["location"]["position"]["line"]):
            continue   # a case declared on its documented enum's line (`enum Side { case a, b }`)
        owner = parent.get(precise)
        if owner is not None:
            reqs = set()
            for p in protocols(owner) | {owner}:
                reqs |= {titles.get(r, "") for r in requirement_names.get(p, ())}
                reqs |= STANDARD_REQUIREMENTS.get(titles.get(p, ""), set())
            # A protocol's own requirement without documentation is missing; a witness is not.
            is_requirement = precise in {r for rs in requirement_names.values() for r in rs}
            if not is_requirement and title in reqs:
                continue
            # A conditional default implementation: a protocol extension's member that implements a
            # requirement of another protocol (`extension DerivativeCarrier where Value: TensorAlgebra`).
            if not is_requirement and kinds.get(owner) == "swift.protocol" and title in every_requirement:
                continue
        missing.append(s)
    return missing


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    report_only = "--report" in sys.argv
    if len(args) < 2:
        sys.exit(__doc__)
    directory, modules = args[0], args[1:]
    symbols, relationships = load(directory, set(modules))
    total_missing = 0
    lines = []
    for m in modules:
        if not symbols[m]:
            sys.exit(f"docs-coverage: no symbol graph of {m} under {directory}")
        others = [symbols[o] for o in symbols if o != m]
        rels = [r for o in symbols for r in relationships[o]]
        missing = undocumented([symbols[m]] + others, rels)
        countable = [k for k, s in symbols[m].items()
                     if "::SYNTHESIZED::" not in k and "location" in s and s["kind"]["identifier"] != "swift.extension"]
        total_missing += len(missing)
        print(f"docs-coverage: {m}: {len(countable) - len(missing)}/{len(countable)} public symbols documented")
        for s in missing:
            loc = s["location"]
            path = loc["uri"].replace("file://", "")
            path = os.path.relpath(path) if path.startswith("/") else path
            lines.append(f"{path}:{loc['position']['line'] + 1}: {s['kind']['displayName'].lower()} "
                         f"{'.'.join(s['pathComponents'])} has no doc comment")
    for line in sorted(lines):
        print(line)
    if total_missing and not report_only:
        print(f"docs-coverage: {total_missing} public symbols without a summary (add a /// line; "
              "protocol witnesses inherit the requirement's)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
