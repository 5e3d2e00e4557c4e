#!/usr/bin/env python3
"""Writes the seed corpus of `inspect`: small hand-built minidumps (committed; run again only to
change them). The fuzzer's own generator is crash-generator, whose dumps are 100s of KB; these
are the same streams in a few KB: system info, misc info, one thread with an AMD64 context and
a stack, an exception, a module with a CodeView record."""

import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
FOLDER = HERE / "corpus" / "inspect"

SYSTEM_INFO, MISC_INFO, THREAD_LIST, EXCEPTION, MODULE_LIST = 7, 15, 3, 6, 4


class Dump:
    def __init__(self):
        self.body = bytearray()
        self.streams = []

    def add(self, data):
        """Appends `data` after the header area, returning its rva (header and directory are
        laid out at the end of building)."""
        rva = len(self.body)
        self.body += data
        while len(self.body) % 8:
            self.body += b"\0"
        return rva

    def build(self, streams, stamp=1790000000):
        # Layout: header (32), directory (12 per stream), then the body; rvas in the body are
        # relative to its start, so they are fixed up by an offset.
        offset = 32 + 12 * len(streams)
        header = struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, len(streams), 32, 0, stamp, 0)
        directory = b"".join(
            struct.pack("<III", kind, size, rva + offset) for kind, size, rva in streams
        )
        return header + directory, offset


def linux_crash():
    # Two passes: the first finds the offset (it depends only on the number of streams).
    offset = 32 + 12 * 5
    d = Dump()
    r = lambda rva: rva + offset  # noqa: E731

    csd = d.add(struct.pack("<I", 6) + "6.1".encode("utf-16-le"))
    system = struct.pack("<HHHBBIIIII HH", 9, 6, 0x5E03, 4, 1, 6, 1, 0, 0x8201, r(csd), 0, 0)
    system += bytes(24)
    system_rva = d.add(system)

    misc = struct.pack("<IIIIII", 24, 1, 4242, 1790000000, 0, 0)
    misc_rva = d.add(misc)

    context = bytearray(1232)
    struct.pack_into("<I", context, 0x30, 0x0010000B)
    struct.pack_into("<Q", context, 0x98, 0x7FFD0000)  # rsp
    struct.pack_into("<Q", context, 0xA0, 0x7FFD0040)  # rbp
    struct.pack_into("<Q", context, 0xF8, 0x55550001010)  # rip, inside the module
    context_rva = d.add(bytes(context))
    stack = struct.pack("<16Q", *([0x55550001020] * 16))
    stack_rva = d.add(stack)
    thread = struct.pack("<IIIIQQIIII", 4242, 0, 0, 0, 0, 0x7FFD0000, len(stack), r(stack_rva),
                         len(context), r(context_rva))
    threads_rva = d.add(struct.pack("<I", 1) + thread)

    exception = struct.pack("<IIIIQQII", 4242, 0, 11, 0, 0, 0x10, 1, 0)
    exception += struct.pack("<15Q", *([0] * 15))
    exception += struct.pack("<II", len(context), r(context_rva))
    exception_rva = d.add(exception)

    name = "/usr/lib/libcrash.so"
    name_rva = d.add(struct.pack("<I", 2 * len(name)) + name.encode("utf-16-le") + b"\0\0")
    cv = b"RSDS" + bytes(range(16)) + struct.pack("<I", 1) + b"libcrash.so\0"
    cv_rva = d.add(cv)
    module = struct.pack("<QIIII", 0x55550000000, 0x10000, 0, 0, r(name_rva))
    module += bytes(52)
    module += struct.pack("<IIIIQQ", len(cv), r(cv_rva), 0, 0, 0, 0)
    modules_rva = d.add(struct.pack("<I", 1) + module)

    streams = [
        (SYSTEM_INFO, len(system), system_rva),
        (MISC_INFO, len(misc), misc_rva),
        (THREAD_LIST, 4 + len(thread), threads_rva),
        (EXCEPTION, len(exception), exception_rva),
        (MODULE_LIST, 4 + len(module), modules_rva),
    ]
    head, check = d.build(streams)
    assert check == offset
    return head + bytes(d.body)


FOLDER.mkdir(parents=True, exist_ok=True)
full = linux_crash()
(FOLDER / "linux-crash").write_bytes(full)
(FOLDER / "header-only").write_bytes(struct.pack("<4sIIIIIQ", b"MDMP", 0xA793, 0, 32, 0, 0, 0))
# The same dump cut short: every stream past the cut points outside the file.
(FOLDER / "truncated").write_bytes(full[: len(full) // 2])
