#!/usr/bin/env python3
"""Measures which event fields Relay's PII engine lets selectors touch, and writes
`relay-pii-fields.tsv` beside this script.

Relay marks every field of its event schema `pii = true`, `maybe` or `false`: `true` fields are
reached by any selector (`$string`, `**`), `maybe` fields only by specific ones (a path of keys,
or a schema type such as `$http` in the first place), `false` fields never. event-filter's Relay
engine needs that table. Rather than transcribing Relay's schema, this asks the real engine
(PyPI sentry-relay, pinned in scripts/setup-test-clients): for every field of every event in the
corpus, and for an unknown key added to every object (what the schema does with fields it does
not declare), it runs `pii_strip_event` with

- the field's exact path and `@anything:remove`: changed (removed, or a file path cut to its
  file name, which Relay keeps) means `true` or `maybe`;
- `** && <that path>` and `@anything:remove`: removed means `true` (a deep wildcard never
  reaches a `maybe` field).

Booleans and the strings Relay never scrubs ("", "true", "false", "null", "undefined") cannot be
probed and need no entry. Array indices and pair-list names are written `*`; a pattern ending in
`.*` is the default for the keys of that object the table does not name. Keys are quoted as in
Relay's selectors (`'thread.id'`).

Run: .clients/venv/bin/python event-filter/rules/relay_pii_fields.py
"""

import json
import sys
from pathlib import Path

import sentry_relay

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "event-filter" / "tests"))
from captures import capture_events  # noqa: E402

UNKNOWN = "zz_unknown_field"
NEVER_SCRUBBED = {"", "true", "false", "null", "undefined"}


def corpus():
    for path in sorted((ROOT / "event-filter" / "testdata" / "events").glob("*.json")):
        yield json.loads(path.read_text())
    for path in sorted((ROOT / "fake-sentry" / "testdata" / "captures").glob("*.body")):
        for item in capture_events(path):
            yield item["event"]
    for path in sorted((ROOT / "event-filter" / "testdata" / "relay" / "events").glob("*.json")):
        yield json.loads(path.read_text())
    extra = ROOT / "event-filter" / "rules" / "relay-pii-probe-events.json"
    if extra.exists():
        yield from json.loads(extra.read_text())


def strip(config, event):
    out = sentry_relay.pii_strip_event(config, event)
    out.pop("_meta", None)
    return out


def is_pair_list(node):
    return (
        isinstance(node, list)
        and node
        and all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in node)
    )


def with_unknown_keys(node):
    """The event with an unknown string field added to every object."""
    if isinstance(node, dict):
        out = {k: with_unknown_keys(v) for k, v in node.items()}
        out.setdefault(UNKNOWN, "probe value")
        return out
    if isinstance(node, list):
        return [with_unknown_keys(v) for v in node]
    return node


def nodes(node, path=()):
    """(path, value) of every node below the root; a path item is ("key", k) or ("index", i).
    A pair list's values are addressed by name, as Relay's matching does."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from visit(value, path + (("key", key),))
    elif is_pair_list(node):
        for name, value in node:
            yield from visit(value, path + (("pair", name),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from visit(value, path + (("index", index),))


def visit(value, path):
    yield path, value
    yield from nodes(value, path)


def quote(key):
    if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii():
        return key
    return "'" + key.replace("'", "''") + "'"


def selector(path):
    return ".".join(str(v) if kind == "index" else quote(v) for kind, v in path)


def resolve(node, path):
    for kind, item in path:
        if node is None:
            return None
        if kind == "key":
            node = node.get(item) if isinstance(node, dict) else None
        elif kind == "index":
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            found = [v for k, v in node if k == item] if is_pair_list(node) else []
            node = found[0] if found else None
    return node


def pattern(path):
    return ".".join("*" if kind != "key" else quote(v) for kind, v in path)


def probe(event, path):
    """`true`, `maybe` or `false` for the node at `path`, or None when it cannot be probed."""
    value = resolve(event, path)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value in NEVER_SCRUBBED:
        return None
    # Removed, or (for paths, whose file name Relay keeps) shortened: either way, changed.
    exact = {"applications": {selector(path): ["@anything:remove"]}}
    if resolve(strip(exact, event), path) == value:
        return "false"
    # `**` reaches only `true` fields; the conjunction keeps it to this one.
    deep = {"applications": {"** && " + selector(path): ["@anything:remove"]}}
    return "true" if resolve(strip(deep, event), path) != value else "maybe"


def parent_of(pattern):
    """The pattern one level up, or None at the top (split on unquoted dots)."""
    depth, quoted = None, False
    for i, c in enumerate(pattern):
        if c == "'":
            quoted = not quoted
        elif c == "." and not quoted:
            depth = i
    return None if depth is None else pattern[:depth]


def pruned(table):
    """Drops entries the lookup would give anyway: a leaf whose attribute equals its object's
    default (`parent.*`), or, without a default, its parent's own attribute."""
    while True:
        dropped = False
        for key in sorted(table, key=len, reverse=True):
            if key.endswith("*") or any(k.startswith(key + ".") for k in table):
                continue
            parent = parent_of(key)
            if parent is None:
                continue
            inherited = table.get(parent + ".*", table.get(parent))
            if inherited == table[key]:
                del table[key]
                dropped = True
        if not dropped:
            return table


def main():
    table = {}
    for raw in corpus():
        event = strip({}, with_unknown_keys(raw))
        for path, _ in nodes(event):
            key = pattern(path)
            if path[-1] == ("key", UNKNOWN):
                key = pattern(path[:-1] + (("index", 0),))
            if key in table:
                continue
            pii = probe(event, path)
            if pii is not None:
                table[key] = pii
    table = pruned(table)
    out = HERE / "relay-pii-fields.tsv"
    with out.open("w") as f:
        f.write(
            f"# Relay's pii attribute per event field, measured from sentry-relay "
            f"{sentry_relay.__version__ if hasattr(sentry_relay, '__version__') else '0.10.1'} "
            f"by relay_pii_fields.py (which says how); do not edit by hand.\n"
        )
        for key in sorted(table):
            f.write(f"{key}\t{table[key]}\n")
    print(f"{len(table)} patterns written to {out}")


if __name__ == "__main__":
    main()
