#!/usr/bin/env python3
# This Source Code Form is subject to the terms of the Mozilla Public
# License, v. 2.0. If a copy of the MPL was not distributed with this
# file, You can obtain one at https://mozilla.org/MPL/2.0/.
"""What Socorro's signature generation (siggen 2.2.20241029) says about crash-signature's
test data, which the Rust tests hold the crate to.

Reads:
  corpus/*.json        Socorro processed crashes (json_dump + annotations)
  probes/probes.json   short cases, expanded here into processed crashes
and writes:
  corpus/expected.json   {"<file>": {"signature", "notes", "proto_signature"}}
  probes/expected.json   {"signatures": [{"name", "input", "signature", "notes",
                          "proto_signature"}], "lists": [{"text", "irrelevant", "prefix",
                          "line_numbers"}]}

Each processed crash goes through siggen.utils.convert_to_crash_data and a default
SignatureGenerator, as Socorro's processor runs them.

Usage (from anywhere; needs `pip install siggen==2.2.20241029`):
  python3 crash-signature/testdata/siggen_expected.py          write both files
  python3 crash-signature/testdata/siggen_expected.py --print  print {"corpus": ...,
                                                               "probes": ...} instead
"""

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

SIGGEN_VERSION = "2.2.20241029"
HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
PROBES = HERE / "probes"

# The stack the annotation probes are signed with.
ANNOTATION_STACK = [
    {"function": "nsThread::ProcessNextEvent(bool, bool*)", "module": "libxul.so"},
    {"function": "mozilla::dom::Foo::Run()", "module": "libxul.so"},
    {"function": "main", "module": "firefox"},
]


def fail(message):
    sys.exit(f"siggen_expected.py: {message}")


def load_siggen():
    try:
        found = version("siggen")
    except Exception:
        fail(f"siggen is not installed; pip install siggen=={SIGGEN_VERSION}")
    if found != SIGGEN_VERSION:
        fail(f"siggen {found} is installed; the expectations are siggen {SIGGEN_VERSION}'s")
    from siggen.generator import SignatureGenerator
    from siggen.rules import CSignatureTool
    from siggen.utils import convert_to_crash_data

    return SignatureGenerator(), CSignatureTool(), convert_to_crash_data


def sign(generator, convert, processed):
    if "json_dump" not in processed:
        fail("every input must be a processed crash (with json_dump)")
    result = generator.generate(convert(processed))
    return {
        "signature": result.signature,
        "notes": result.notes,
        "proto_signature": result.extra.get("proto_signature"),
    }


def processed(frames, os="Linux", **annotations):
    crash = {
        "json_dump": {
            "crash_info": {"crashing_thread": 0, "type": "SIGSEGV", "address": "0x0"},
            "system_info": {"os": os, "cpu_arch": "amd64"},
            "threads": [{"frame_count": len(frames), "frames": frames}],
        }
    }
    crash.update(annotations)
    return crash


def expand_probes(spec):
    """The probes file's short cases as named processed crashes."""
    cases = []
    for i, function in enumerate(spec["functions"]):
        cases.append((f"function {i} as C/C++", processed([{"function": function, "line": 7}])))
        rust_frame = {"function": function, "file": "/builds/src/lib.rs", "line": 7}
        cases.append((f"function {i} as Rust", processed([rust_frame])))
    for i, frame in enumerate(spec["frames"]):
        cases.append((f"frame {i}", processed([frame])))
    for i, frame in enumerate(spec["windows_frames"]):
        cases.append((f"Windows frame {i}", processed([frame], os="Windows NT")))
    for i, stack in enumerate(spec["stacks"]):
        cases.append((f"stack {i}", processed(stack)))
    for key, values in spec["annotations"].items():
        for i, value in enumerate(values):
            cases.append((f"{key} {i}", processed(ANNOTATION_STACK, **{key: value})))
    return cases


def list_texts(extra):
    """Text to try against each list: every line as written, without its backslashes, with
    more after it, with a newline after it and with a letter before it, plus the probes file's
    own."""
    from siggen.siglists_utils import get_signature_list_content

    texts = []
    for name in (
        "irrelevant_signature_re",
        "prefix_signature_re",
        "signatures_with_line_numbers_re",
    ):
        for line in get_signature_list_content(name):
            plain = line.replace("\\", "")
            texts += [line, plain, plain + "::x", plain + "\n", "x" + plain]
    texts += extra
    seen = set()
    return [t for t in texts if not (t in seen or seen.add(t))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", action="store_true", help="print instead of writing")
    args = parser.parse_args()

    generator, tool, convert = load_siggen()

    corpus = {}
    for path in sorted(CORPUS.glob("*.json")):
        if path.name == "expected.json":
            continue
        corpus[path.name] = sign(generator, convert, json.loads(path.read_text("utf-8")))

    spec = json.loads((PROBES / "probes.json").read_text("utf-8"))
    signatures = []
    for name, crash in expand_probes(spec):
        signatures.append({"name": name, "input": crash, **sign(generator, convert, crash)})
    lists = [
        {
            "text": text,
            "irrelevant": bool(tool.irrelevant_signature_re.match(text)),
            "prefix": bool(tool.prefix_signature_re.match(text)),
            "line_numbers": bool(tool.signatures_with_line_numbers_re.match(text)),
        }
        for text in list_texts(spec["list_text"])
    ]
    probes = {"signatures": signatures, "lists": lists}

    def dump(value):
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"

    if args.print:
        sys.stdout.write(dump({"corpus": corpus, "probes": probes}))
        return
    (CORPUS / "expected.json").write_text(dump(corpus), "utf-8")
    (PROBES / "expected.json").write_text(dump(probes), "utf-8")
    print(f"{len(corpus)} corpus crashes, {len(signatures)} signature probes, "
          f"{len(lists)} list probes")


if __name__ == "__main__":
    main()
