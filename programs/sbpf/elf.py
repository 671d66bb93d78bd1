"""ELF64 little-endian constants and a reader for relocatable BPF objects (`clang -c`)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EM_BPF = 247
ET_REL, ET_DYN = 1, 3

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_DYNAMIC = 1, 2, 3, 6
SHT_NOBITS, SHT_REL, SHT_DYNSYM = 8, 9, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2

STB_GLOBAL = 1
STT_NOTYPE, STT_FUNC = 0, 2

R_BPF_NONE = 0
R_BPF_64_64 = 1  # lddw rX, symbol: a 64-bit immediate split over two instructions
R_BPF_64_ABS64 = 2  # a 64-bit address stored in data
R_BPF_64_ABS32 = 3  # 32-bit address (debug sections only)
R_BPF_64_NODYLD32 = 4  # 32-bit offset (debug sections only)
R_BPF_64_32 = 10  # `call imm`

PT_LOAD, PT_DYNAMIC = 1, 2
PF_X, PF_W, PF_R = 1, 2, 4

DT_NULL, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT = 0, 5, 6, 10, 11
DT_REL, DT_RELSZ, DT_RELENT, DT_TEXTREL = 17, 18, 19, 22

EHDR_SIZE, PHDR_SIZE, SHDR_SIZE, SYM_SIZE, REL_SIZE, DYN_SIZE = 64, 56, 64, 24, 16, 16

SHDR_FORMAT = "<IIQQQQIIQQ"  # name type flags addr offset size link info addralign entsize
SYM_FORMAT = "<IBBHQQ"  # name info other shndx value size
REL_FORMAT = "<QQ"  # offset info (symbol << 32 | type)


class ElfError(Exception):
    """The input is not an ELF file this toolchain understands."""


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    size: int
    link: int
    info: int
    align: int
    data: bytes

    @property
    def allocated(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    @property
    def writable(self) -> bool:
        return bool(self.flags & SHF_WRITE)


@dataclass(frozen=True)
class Symbol:
    name: str
    info: int
    shndx: int
    value: int
    size: int

    @property
    def undefined(self) -> bool:
        return self.shndx == SHN_UNDEF


@dataclass(frozen=True)
class Relocation:
    offset: int  # within the section it applies to
    type: int
    symbol: Symbol


@dataclass
class RelocatableObject:
    sections: list[Section]
    symbols: list[Symbol]
    # index of the section a relocation table applies to -> its relocations
    relocations: dict[int, list[Relocation]] = field(default_factory=dict)


def c_string(buffer: bytes, offset: int) -> str:
    return buffer[offset : buffer.index(b"\0", offset)].decode()


def read_relocatable(data: bytes) -> RelocatableObject:
    """Sections, symbols and relocations of a little-endian ELF64 BPF relocatable object."""
    try:
        return _read_relocatable(data)
    except (struct.error, IndexError, ValueError, UnicodeDecodeError) as error:
        raise ElfError(f"truncated or malformed ELF file ({error})") from error


def _read_relocatable(data: bytes) -> RelocatableObject:
    if len(data) < EHDR_SIZE or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError("not a little-endian 64-bit ELF file")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_machine != EM_BPF:
        raise ElfError(f"not a BPF object (e_machine {e_machine}); compile with -target bpf")
    if e_type != ET_REL:
        raise ElfError(f"not a relocatable object (e_type {e_type}); compile with -c")
    (e_shoff,) = struct.unpack_from("<Q", data, 0x28)
    e_shnum, e_shstrndx = struct.unpack_from("<HH", data, 0x3C)

    headers = [
        struct.unpack_from(SHDR_FORMAT, data, e_shoff + i * SHDR_SIZE) for i in range(e_shnum)
    ]
    names = data[headers[e_shstrndx][4] :][: headers[e_shstrndx][5]]
    sections = []
    for index, header in enumerate(headers):
        name, typ, flags, _addr, offset, size, link, info, align, _entsize = header
        body = b"" if typ == SHT_NOBITS else data[offset : offset + size]
        sections.append(
            Section(index, c_string(names, name), typ, flags, size, link, info, align, body)
        )

    symbols: list[Symbol] = []
    symtab = next((s for s in sections if s.type == SHT_SYMTAB), None)
    if symtab is not None:
        strtab = sections[symtab.link].data
        for name, info, _other, shndx, value, size in struct.iter_unpack(SYM_FORMAT, symtab.data):
            symbols.append(Symbol(c_string(strtab, name), info, shndx, value, size))

    relocations: dict[int, list[Relocation]] = {}
    for section in sections:
        if section.type != SHT_REL:
            continue
        relocations[section.info] = [
            Relocation(offset, info & 0xFFFFFFFF, symbols[info >> 32])
            for offset, info in struct.iter_unpack(REL_FORMAT, section.data)
        ]
    return RelocatableObject(sections, symbols, relocations)
