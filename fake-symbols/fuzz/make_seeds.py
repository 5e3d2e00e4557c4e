#!/usr/bin/env python3
"""Writes the seed corpus of sym_rewrite (the files are committed; run again only to change
them). Input layout: faults byte (bits 0-4 corruptions, 5 truncate, 6 mid-line, 7 abort),
fraction byte (/255), source byte (bit 0 synthetic, the rest its size in 512-byte units), body."""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent
FOLDER = HERE / "corpus" / "sym_rewrite"

SYM = (
    b"MODULE Linux x86_64 ABCDEF0123456789ABCDEF0123456789A libfoo.so\n"
    b"INFO CODE_ID 0123456789ABCDEF0123456789ABCDEF\n"
    b"FILE 0 /src/foo.c\n"
    b"FILE 1 /src/bar.h\n"
    b"INLINE_ORIGIN 0 foo::helper\n"
    b"FUNC 1000 40 0 foo::crash_here(int)\n"
    b"INLINE 0 12 0 0 1010 8\n"
    b"1000 8 40 0\n"
    b"1008 38 41 0\n"
    b"FUNC m 1040 20 0 foo::multiple\n"
    b"1040 20 50 1\n"
    b"PUBLIC 2000 0 foo_public\n"
    b"STACK CFI INIT 1000 40 .cfa: $rsp 8 + .ra: .cfa -8 + ^\n"
)
NO_ORIGINS = (
    b"MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 foo.pdb\r\n"
    b"FILE 0 c:\\src\\foo.cpp\r\n"
    b"FUNC 5 10 4 Foo::Bar(char const*)\r\n"
    b"5 10 7 0\r\n"
)
MULTI_BYTE = "MODULE Linux x86_64 0 libü.so\nFUNC 1000 4 0 中\n1000 4 1 0\nFUNC 2000 4 0 é::ü\n".encode()

ALL = 0x1F
TRUNCATE, MID_LINE, ABORT = 0x20, 0x40, 0x80
SEEDS = {
    "plain": (0, 0, 0, SYM),
    "wrong-module-id": (0x01, 0, 0, SYM),
    "inline-origin-no-name": (0x02, 0, 0, NO_ORIGINS),
    "inline-origin-blank-name": (0x04, 0, 0, SYM),
    "name-split": (0x08, 0, 0, SYM),
    "name-split-multi-byte": (0x08, 0, 0, MULTI_BYTE),
    "line-before-func": (0x10, 0, 0, SYM),
    "all-corruptions": (ALL, 0, 0, SYM),
    "truncate-line-boundary": (TRUNCATE, 128, 0, SYM),
    "truncate-mid-line-abort": (TRUNCATE | MID_LINE | ABORT, 100, 0, SYM),
    "all-truncate-abort": (ALL | TRUNCATE | ABORT, 200, 0, NO_ORIGINS),
    # Synthetic source: debug file, debug id, then nothing; 8 units of 512 bytes.
    "synthetic": (ALL | TRUNCATE | MID_LINE, 128, 1 | (8 << 1), b"xul.pdb\n0123456789ABCDEF0123456789ABCDEF1\n"),
    "synthetic-odd-names": (0x08, 0, 1 | (2 << 1), "x ü.pdb\n中文\n".encode()),
}

FOLDER.mkdir(parents=True, exist_ok=True)
for name, (faults, fraction, source, body) in SEEDS.items():
    (FOLDER / name).write_bytes(bytes([faults, fraction, source]) + body)
