"""Post-link step: one relocatable BPF object (clang-19 -target bpf -c) -> a Solana SBPFv0 .so.

Upstream ld.lld refuses BPF executables, so this static linker does the job the Solana toolchain's
linker does, for one object file:

- every executable input section goes into .text, every read-only one into .rodata, each at file
  offset == virtual address (the loader maps the file as is);
- addresses are resolved now: `lddw` (R_BPF_64_64) and pointers in read-only data (R_BPF_64_ABS64)
  get 0x1_0000_0000 + vaddr, where the runtime maps the program, so no dynamic R_BPF_64_RELATIVE
  is needed;
- calls to the program's own functions become pc-relative (`call imm`, imm = target - pc - 1 in
  instructions), which is how SBPFv0 finds internal functions;
- calls to undefined functions stay `call -1` with a dynamic R_BPF_64_32 relocation naming them
  in .dynsym: the runtime binds those to syscalls by the murmur3 hash of the name. Each name is
  checked against the runtime's syscall list here (programs/sbpf/syscalls.py);
- `callx`: upstream LLVM encodes its register in dst_reg, SBPFv0 reads it from the immediate;
- writable data (.data/.bss) is refused: Solana maps programs read-only.

Several C files: merge them first (`clang -emit-llvm` + `llvm-link`, or `-flto`).
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from programs.sbpf.elf import (
    R_BPF_64_32,
    R_BPF_64_64,
    R_BPF_64_ABS64,
    R_BPF_NONE,
    SHN_ABS,
    SHN_COMMON,
    SHT_NOBITS,
    SHT_PROGBITS,
    ElfError,
    RelocatableObject,
    Relocation,
    Section,
    Symbol,
    read_relocatable,
)
from programs.sbpf.shared_object import TEXT_OFFSET, LinkedImage, align, write_shared_object
from programs.sbpf.syscalls import SYSCALLS, unknown_syscall_message

MM_PROGRAM_START = 0x1_0000_0000  # where the runtime maps the program's image
INSN = 8  # bytes per instruction (lddw takes two)
OP_CALL, OP_CALLX, OP_LDDW = 0x85, 0x8D, 0x18
STT_SECTION = 3


class LinkError(Exception):
    """The object cannot become a Solana program; the message says why."""


def link(obj: bytes, *, entry: str = "entrypoint") -> bytes:
    """The SBPFv0 shared object for the relocatable BPF object `obj`."""
    try:
        parsed = read_relocatable(obj)
    except ElfError as error:
        raise LinkError(str(error)) from error
    return write_shared_object(_Linker(parsed, entry).run())


def link_file(obj_path: Path, so_path: Path, *, entry: str = "entrypoint") -> Path:
    """Links the object at `obj_path` into `so_path`."""
    so_path.write_bytes(link(Path(obj_path).read_bytes(), entry=entry))
    return so_path


def _describe(section: Section, symbols: list[Symbol]) -> str:
    names = [
        s.name
        for s in symbols
        if s.shndx == section.index and s.name and s.info & 0xF != STT_SECTION
    ]
    what = f" ({', '.join(names)})" if names else ""
    return f"{section.name}{what}, {section.size} bytes"


class _Linker:
    def __init__(self, obj: RelocatableObject, entry: str) -> None:
        self.obj = obj
        self.entry_name = entry
        self.address: dict[int, int] = {}  # input section index -> output address
        self.syscalls: list[str] = []
        self.syscall_calls: list[tuple[int, int]] = []

    def run(self) -> LinkedImage:
        text, rodata = self._classify()
        text_end = self._place(text, TEXT_OFFSET, code=True)
        rodata_offset = align(text_end, 8)
        rodata_end = self._place(rodata, rodata_offset, code=False)
        self.text_range = (TEXT_OFFSET, text_end)
        self.image = bytearray(rodata_end)
        for section in text + rodata:
            start = self.address[section.index]
            self.image[start : start + section.size] = section.data
        for section in text + rodata:
            for relocation in self.obj.relocations.get(section.index, []):
                self._relocate(section, relocation)
        self._fix_callx(text_end)
        return LinkedImage(
            image=self.image,
            text_offset=TEXT_OFFSET,
            text_size=text_end - TEXT_OFFSET,
            rodata_offset=rodata_offset,
            rodata_size=rodata_end - rodata_offset,
            entry=self._entry(),
            entry_name=self.entry_name,
            syscalls=self.syscalls,
            syscall_calls=self.syscall_calls,
        )

    def _classify(self) -> tuple[list[Section], list[Section]]:
        """The code and read-only data sections; anything writable is an error."""
        text, rodata = [], []
        common = [s.name for s in self.obj.symbols if s.shndx == SHN_COMMON]
        if common:
            raise LinkError(
                f"writable global data ({', '.join(common)}): Solana programs cannot have mutable "
                "globals or statics; keep state in accounts (or make it `static const`)"
            )
        for section in self.obj.sections:
            if not section.allocated or section.size == 0:
                continue  # debug info, BTF, address-significance tables, empty sections
            # .data.rel.ro is writable only so a dynamic linker can relocate it; we resolve it now.
            if section.writable and not section.name.startswith(".data.rel.ro"):
                raise LinkError(
                    f"writable data in {_describe(section, self.obj.symbols)}: Solana programs "
                    "cannot have mutable globals or statics (.data/.bss); keep state in accounts "
                    "(or make it `static const`)"
                )
            if section.type == SHT_NOBITS:
                raise LinkError(f"unsupported uninitialised section {section.name}")
            if section.type != SHT_PROGBITS:
                raise LinkError(f"unsupported section {section.name} (type {section.type})")
            (text if section.executable else rodata).append(section)
        if not text:
            raise LinkError("the object has no code")
        return text, rodata

    def _place(self, sections: list[Section], start: int, *, code: bool) -> int:
        position = start
        for section in sections:
            position = align(position, INSN if code else max(1, section.align))
            self.address[section.index] = position
            position += section.size
        return position

    def _symbol_address(self, symbol: Symbol) -> int | None:
        """The output address of `symbol`, None when undefined."""
        if symbol.undefined:
            return None
        if symbol.shndx == SHN_ABS:
            return symbol.value
        if symbol.shndx not in self.address:
            raise LinkError(f"symbol {symbol.name!r} is in a section this linker does not keep")
        return self.address[symbol.shndx] + symbol.value

    def _relocate(self, section: Section, relocation: Relocation) -> None:
        at = self.address[section.index] + relocation.offset
        target = self._symbol_address(relocation.symbol)
        name = relocation.symbol.name or "<section>"
        image = self.image
        if relocation.type == R_BPF_64_32:
            if image[at] != OP_CALL:
                raise LinkError(f"R_BPF_64_32 on a non-call instruction at {at:#x}")
            if target is None:
                self._call_syscall(at, relocation.symbol.name)
                return
            (imm,) = struct.unpack_from("<i", image, at + 4)
            destination = target + (imm + 1) * INSN  # clang's REL addend for section symbols
            start, end = self.text_range
            if not start <= destination < end or (destination - start) % INSN:
                raise LinkError(f"call to {name} lands outside .text")
            struct.pack_into("<i", image, at + 4, (destination - at) // INSN - 1)
        elif relocation.type == R_BPF_64_64:
            if image[at] != OP_LDDW:
                raise LinkError(f"R_BPF_64_64 on a non-lddw instruction at {at:#x}")
            if target is None:
                raise LinkError(f"undefined data symbol {name!r} (only syscalls may be undefined)")
            (addend,) = struct.unpack_from("<I", image, at + 4)
            value = MM_PROGRAM_START + target + addend
            struct.pack_into("<I", image, at + 4, value & 0xFFFFFFFF)
            struct.pack_into("<I", image, at + INSN + 4, value >> 32)
        elif relocation.type == R_BPF_64_ABS64:
            if target is None:
                raise LinkError(f"undefined data symbol {name!r} (only syscalls may be undefined)")
            (addend,) = struct.unpack_from("<Q", image, at)
            struct.pack_into("<Q", image, at, MM_PROGRAM_START + target + addend)
        elif relocation.type != R_BPF_NONE:
            raise LinkError(f"unsupported relocation type {relocation.type} in {section.name}")

    def _call_syscall(self, at: int, name: str) -> None:
        if name not in SYSCALLS:
            raise LinkError(unknown_syscall_message(name))
        if name not in self.syscalls:
            self.syscalls.append(name)
        struct.pack_into("<i", self.image, at + 4, -1)
        self.syscall_calls.append((at, self.syscalls.index(name)))

    def _fix_callx(self, text_end: int) -> None:
        """SBPFv0 reads callx's register from the immediate; LLVM puts it in dst_reg."""
        at = TEXT_OFFSET
        while at < text_end:
            opcode = self.image[at]
            if opcode == OP_CALLX:
                (imm,) = struct.unpack_from("<i", self.image, at + 4)
                register = self.image[at + 1] & 0x0F
                if imm == 0:
                    struct.pack_into("<i", self.image, at + 4, register)
                    self.image[at + 1] = 0
            at += 2 * INSN if opcode == OP_LDDW else INSN

    def _entry(self) -> int:
        for symbol in self.obj.symbols:
            if symbol.name == self.entry_name and not symbol.undefined:
                address = self._symbol_address(symbol)
                start, end = self.text_range
                if address is None or not start <= address < end:
                    raise LinkError(f"entry symbol {self.entry_name!r} is not code")
                return address
        raise LinkError(
            f"no entry symbol {self.entry_name!r}: define "
            f"`uint64_t {self.entry_name}(const uint8_t *input)`"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m programs.sbpf.link",
        description="Link a relocatable BPF object into a Solana SBPFv0 program (.so).",
    )
    parser.add_argument("object", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--entry", default="entrypoint")
    args = parser.parse_args(argv)
    try:
        link_file(args.object, args.output, entry=args.entry)
    except (LinkError, OSError) as error:
        print(f"link: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
