"""Writes the SBPFv0 shared object (ET_DYN) that the Solana runtime loads.

The image from the linker already holds .text and .rodata at file offset == virtual address with
every address resolved. What stays dynamic is the syscalls: each call site is `call -1` with an
R_BPF_64_32 relocation in .rel.dyn against an undefined .dynsym entry, and the loader writes the
murmur3 hash of the entry's name into the call when it loads the program.

File layout: ELF header, program headers, .text, .rodata, .dynsym, .dynstr, .rel.dyn, .dynamic,
.shstrtab, section headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from programs.sbpf.elf import (
    DT_NULL,
    DT_REL,
    DT_RELENT,
    DT_RELSZ,
    DT_STRSZ,
    DT_STRTAB,
    DT_SYMENT,
    DT_SYMTAB,
    DT_TEXTREL,
    DYN_SIZE,
    EHDR_SIZE,
    EM_BPF,
    ET_DYN,
    PF_R,
    PF_X,
    PHDR_SIZE,
    PT_DYNAMIC,
    PT_LOAD,
    R_BPF_64_32,
    REL_FORMAT,
    REL_SIZE,
    SHDR_FORMAT,
    SHDR_SIZE,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHN_UNDEF,
    SHT_DYNAMIC,
    SHT_DYNSYM,
    SHT_PROGBITS,
    SHT_REL,
    SHT_STRTAB,
    STB_GLOBAL,
    STT_FUNC,
    STT_NOTYPE,
    SYM_FORMAT,
    SYM_SIZE,
)

MAX_PROGRAM_HEADERS = 4
# .text starts after the ELF header and the program headers (room for all four).
TEXT_OFFSET = EHDR_SIZE + MAX_PROGRAM_HEADERS * PHDR_SIZE


def align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment if alignment > 1 else value


@dataclass
class LinkedImage:
    """What the linker produced: bytes [0, len(image)) of the file, headers left blank."""

    image: bytearray
    text_offset: int
    text_size: int
    rodata_offset: int
    rodata_size: int
    entry: int  # address (== file offset) of the entrypoint
    entry_name: str
    syscalls: list[str]  # the .dynsym entries after the null symbol, in order
    syscall_calls: list[tuple[int, int]]  # (offset of a `call -1`, index into syscalls)


class _Out(NamedTuple):
    """An output section header."""

    name: str
    kind: int
    flags: int
    offset: int
    size: int
    link: int = 0
    info: int = 0
    align: int = 8
    entsize: int = 0


def _string_table(names: list[str]) -> tuple[bytes, dict[str, int]]:
    table, offsets = bytearray(b"\0"), {}
    for name in names:
        if name not in offsets:
            offsets[name] = len(table)
            table += name.encode() + b"\0"
    return bytes(table), offsets


def write_shared_object(linked: LinkedImage) -> bytes:
    """The complete .so file for `linked`."""
    if linked.text_offset != TEXT_OFFSET:
        raise ValueError(f".text must start at {TEXT_OFFSET:#x}")
    dynstr, name_at = _string_table([*linked.syscalls, linked.entry_name])
    dynsym = bytearray(SYM_SIZE)  # the null symbol
    syscall_info = STB_GLOBAL << 4 | STT_NOTYPE  # undefined, no type: the loader binds a syscall
    for name in linked.syscalls:
        dynsym += struct.pack(SYM_FORMAT, name_at[name], syscall_info, 0, SHN_UNDEF, 0, 0)
    text_index = 1  # section index of .text below
    entry_info = STB_GLOBAL << 4 | STT_FUNC
    dynsym += struct.pack(
        SYM_FORMAT, name_at[linked.entry_name], entry_info, 0, text_index, linked.entry, 0
    )
    reldyn = b"".join(
        struct.pack(REL_FORMAT, offset, (1 + index) << 32 | R_BPF_64_32)
        for offset, index in linked.syscall_calls
    )

    dynsym_offset = align(len(linked.image), 8)
    dynstr_offset = dynsym_offset + len(dynsym)
    reldyn_offset = align(dynstr_offset + len(dynstr), 8)
    dynamic_offset = align(reldyn_offset + len(reldyn), 8)
    tags = [
        (DT_SYMTAB, dynsym_offset),
        (DT_SYMENT, SYM_SIZE),
        (DT_STRTAB, dynstr_offset),
        (DT_STRSZ, len(dynstr)),
    ]
    if reldyn:
        tags += [(DT_REL, reldyn_offset), (DT_RELSZ, len(reldyn)), (DT_RELENT, REL_SIZE)]
        tags += [(DT_TEXTREL, 0)]
    dynamic = b"".join(struct.pack("<QQ", tag, value) for tag, value in [*tags, (DT_NULL, 0)])
    shstrtab_offset = dynamic_offset + len(dynamic)

    section_names = [".text", ".rodata", ".dynsym", ".dynstr", ".rel.dyn", ".dynamic", ".shstrtab"]
    shstrtab, name_of = _string_table(section_names)
    dynsym_index = 3 if linked.rodata_size else 2  # after null, .text and (if any) .rodata
    dynstr_index = dynsym_index + 1
    code = SHF_ALLOC | SHF_EXECINSTR
    sections = [
        _Out(".text", SHT_PROGBITS, code, linked.text_offset, linked.text_size),
        _Out(".rodata", SHT_PROGBITS, SHF_ALLOC, linked.rodata_offset, linked.rodata_size),
        _Out(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym_offset, len(dynsym), dynstr_index, 1,
             entsize=SYM_SIZE),
        _Out(".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr_offset, len(dynstr), align=1),
        _Out(".rel.dyn", SHT_REL, SHF_ALLOC, reldyn_offset, len(reldyn), dynsym_index,
             entsize=REL_SIZE),
        _Out(".dynamic", SHT_DYNAMIC, SHF_ALLOC, dynamic_offset, len(dynamic), dynstr_index,
             entsize=DYN_SIZE),
        _Out(".shstrtab", SHT_STRTAB, 0, shstrtab_offset, len(shstrtab), align=1),
    ]  # fmt: skip
    sections = [s for s in sections if s.size or s.name in (".text", ".dynsym", ".dynstr")]
    shstrtab_index = len(sections)  # the last one; index 0 is the null section header
    section_headers_offset = align(shstrtab_offset + len(shstrtab), 8)

    segments = [
        (PT_LOAD, PF_R | PF_X, linked.text_offset, linked.text_size),
        (PT_LOAD, PF_R, linked.rodata_offset, linked.rodata_size),
        (PT_LOAD, PF_R, dynsym_offset, shstrtab_offset - dynsym_offset),
        (PT_DYNAMIC, PF_R, dynamic_offset, len(dynamic)),
    ]
    segments = [s for s in segments if s[3]]

    out = bytearray(section_headers_offset + (1 + len(sections)) * SHDR_SIZE)
    out[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)  # ELF64, little-endian, version 1, SYSV ABI
    struct.pack_into(
        "<HHIQQQIHHHHHH", out, 16,
        ET_DYN, EM_BPF, 1, linked.entry, EHDR_SIZE, section_headers_offset,
        0,  # e_flags 0: SBPFv0
        EHDR_SIZE, PHDR_SIZE, len(segments), SHDR_SIZE, 1 + len(sections), shstrtab_index,
    )  # fmt: skip
    for i, (kind, flags, offset, size) in enumerate(segments):
        alignment = 0x1000 if kind == PT_LOAD else 8
        struct.pack_into(
            "<IIQQQQQQ", out, EHDR_SIZE + i * PHDR_SIZE,
            kind, flags, offset, offset, offset, size, size, alignment,
        )  # fmt: skip
    out[linked.text_offset : len(linked.image)] = linked.image[linked.text_offset :]
    for offset, blob in (
        (dynsym_offset, dynsym),
        (dynstr_offset, dynstr),
        (reldyn_offset, reldyn),
        (dynamic_offset, dynamic),
        (shstrtab_offset, shstrtab),
    ):
        out[offset : offset + len(blob)] = blob
    for i, s in enumerate(sections):
        address = s.offset if s.flags & SHF_ALLOC else 0
        struct.pack_into(
            SHDR_FORMAT, out, section_headers_offset + (1 + i) * SHDR_SIZE,
            name_of[s.name], s.kind, s.flags, address, s.offset, s.size, s.link, s.info, s.align,
            s.entsize,
        )  # fmt: skip
    return bytes(out)
