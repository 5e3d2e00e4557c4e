#!/usr/bin/env python3
# This Source Code Form is subject to the terms of the Mozilla Public
# License, v. 2.0. If a copy of the MPL was not distributed with this
# file, You can obtain one at https://mozilla.org/MPL/2.0/.
"""Signs every processed crash of a harness report folder with Socorro's signature generation
(siggen) and compares the result with the signature the harness wrote.

Each `crashes/<crash>.json` (and `crashes/<crash>.stackwalk.json`, minidump-stackwalk's beside
the in-process processor's) of REPORT_DIR goes through siggen.utils.convert_to_crash_data and a
default SignatureGenerator, as Socorro's processor runs them, unchanged. A crash agrees when
siggen's signature equals the file's `signature`, siggen's proto signature its
`proto_signature` (both absent counts as equal), and siggen's notes equal the harness's exactly,
empty or not: the `signature_notes` of the crash's result in REPORT_DIR/report.json, which are
also the last lines of the file's `processor_notes` (other rules' notes come before them).

Usage (needs `pip install siggen==2.2.20241029`, which scripts/setup-test-clients puts in
.clients/venv):
  python3 harness/tests/siggen_check.py target/harness/demo          one line per crash
  python3 harness/tests/siggen_check.py target/harness/demo --json   {"siggen", "crashes": [...]}

Exit status: 0 when every crash agrees, 1 when one does not, 2 when the folder has no crashes
or no report.json, or siggen cannot be imported.
"""

import argparse
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SIGGEN_VERSION = "2.2.20241029"


def fail(message):
    print(f"siggen_check.py: {message}", file=sys.stderr)
    sys.exit(2)


def load_siggen():
    try:
        found = version("siggen")
    except PackageNotFoundError:
        fail(f"siggen is not installed; pip install siggen=={SIGGEN_VERSION}")
    if found != SIGGEN_VERSION:
        print(
            f"siggen_check.py: siggen {found} is installed; the harness signs as siggen "
            f"{SIGGEN_VERSION} does, so signatures may differ",
            file=sys.stderr,
        )
    from siggen.generator import SignatureGenerator
    from siggen.utils import convert_to_crash_data

    return found, SignatureGenerator(), convert_to_crash_data


STACKWALK = "minidump-stackwalk"
IN_PROCESS = "minidump-processor"


def load_results(report_dir):
    """The harness's signature notes per (file stem, processor) from report.json."""
    path = report_dir / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    notes = {}
    for result in report.get("crashes", []):
        stem = result["crash"].replace("/", "_").replace("\\", "_")
        notes[(stem, result["processor"])] = result.get("signature_notes")
    return notes


def check(generator, convert, path, harness_notes):
    """siggen's verdict on one processed crash, beside what the file and report.json say."""
    processed = json.loads(path.read_text(encoding="utf-8"))
    result = generator.generate(convert(processed))
    # Only minidump-stackwalk's processed crashes carry its version (MinidumpStackwalkRule).
    processor = STACKWALK if "stackwalk_version" in processed else IN_PROCESS
    stem = path.stem
    if processor == STACKWALK and stem.endswith(".stackwalk"):
        stem = stem[: -len(".stackwalk")]
    ours = harness_notes.get((stem, processor))
    written_notes = processed.get("processor_notes") or ""
    written_notes = written_notes.split("\n") if written_notes else []
    # Exact: equal lists, and the file's notes end with them (nothing is claimed by a suffix
    # check alone, which an empty list always passes).
    notes_agree = (
        ours is not None
        and ours == result.notes
        and (not ours or written_notes[-len(ours) :] == ours)
    )
    siggen_proto = result.extra.get("proto_signature")
    written_proto = processed.get("proto_signature")
    return {
        "crash": path.stem,
        "signature": processed.get("signature"),
        "siggen_signature": result.signature,
        "proto_signature": written_proto,
        "siggen_proto_signature": siggen_proto,
        "notes": ours,
        "siggen_notes": result.notes,
        "equal": processed.get("signature") == result.signature
        and written_proto == siggen_proto
        and notes_agree,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report_dir", type=Path, help="a harness report folder (--report-dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    files = sorted((args.report_dir / "crashes").glob("*.json"))
    if not files:
        fail(f"no processed crashes in {args.report_dir / 'crashes'}")
    harness_notes = load_results(args.report_dir)
    found, generator, convert = load_siggen()
    results = [check(generator, convert, path, harness_notes) for path in files]
    differing = [r for r in results if not r["equal"]]

    if args.json:
        json.dump({"siggen": found, "crashes": results}, sys.stdout, indent=2)
        print()
    else:
        for r in results:
            mark = "ok  " if r["equal"] else "DIFF"
            print(f"{mark} {r['crash']}: {r['siggen_signature']}")
            if not r["equal"]:
                print(f"     harness:       {r['signature']}")
                print(f"     proto harness: {r['proto_signature']}")
                print(f"     proto siggen:  {r['siggen_proto_signature']}")
                print(f"     notes harness: {r['notes']}")
                print(f"     notes siggen:  {r['siggen_notes']}")
        agreeing = len(results) - len(differing)
        print(f"{len(results)} crashes, {agreeing} signed as siggen {found} signs them")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
