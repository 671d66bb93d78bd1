"""Builds on-chain programs written in C: clang-19 -> relocatable BPF object -> link.py -> .so.

    build_program(Path("programs/staking"), Path("programs/build"))  # -> programs/build/staking.so
    build_all()                             # every programs/<name>/<name>.c -> programs/build/
    python -m programs.sbpf.build           # the same, printing sizes

A program is one C file, or a folder `<name>/` whose `<name>.c` is compiled (it may #include
other files of the folder). Results are cached: `<out_dir>/<name>.so` is rebuilt only when the
hash of the program's sources, the SDK, this toolchain's Python and the compiler changes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from programs.sbpf.link import LinkError, link

SBPF_DIR = Path(__file__).resolve().parent
SDK_INCLUDE = SBPF_DIR / "include"
PROGRAMS_DIR = SBPF_DIR.parent
BUILD_DIR = PROGRAMS_DIR / "build"
CLANG = os.environ.get("EVCH_CLANG", "clang-19")

# -mcpu=v2: v3 emits 32-bit jumps, which SBPFv0 rejects. Frames are 4 KiB on Solana.
CFLAGS = (
    "-target", "bpf", "-mcpu=v2", "-O2", "-std=c17",
    "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-common",
    "-Wall", "-Werror", "-mllvm", "-bpf-stack-size=4096",
)  # fmt: skip
SOURCE_SUFFIXES = (".c", ".h")
# The modules whose change changes the output (deploy.py and friends do not).
TOOLCHAIN_MODULES = ("build.py", "link.py", "elf.py", "shared_object.py", "syscalls.py")
NOT_PROGRAMS = {"sbpf", "build", "__pycache__"}


class BuildError(Exception):
    """The program did not build; the message says why (compiler output included)."""


def build_program(source: Path, out_dir: Path) -> Path:
    """Compiles and links one C program into `out_dir/<name>.so` and returns that path.

    `source` is a `.c` file or a folder holding `<folder name>.c`. Unchanged programs are not
    rebuilt (see `source_hash`).
    """
    main_c, name = _main_file(Path(source))
    out_dir = Path(out_dir)
    so_path = out_dir / f"{name}.so"
    stamp = out_dir / f"{name}.so.sha256"
    digest = source_hash(Path(source))
    if so_path.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return so_path
    out_dir.mkdir(parents=True, exist_ok=True)
    so_bytes = _compile_and_link(main_c)
    _write_atomically(so_path, so_bytes)
    _write_atomically(stamp, (digest + "\n").encode())
    return so_path


def build_all(programs_dir: Path = PROGRAMS_DIR, out_dir: Path = BUILD_DIR) -> dict[str, Path]:
    """Builds every `programs_dir/<name>/<name>.c` into `out_dir/<name>.so`, by name."""
    built = {}
    for folder in sorted(p for p in Path(programs_dir).iterdir() if p.is_dir()):
        if folder.name not in NOT_PROGRAMS and (folder / f"{folder.name}.c").is_file():
            built[folder.name] = build_program(folder, out_dir)
    return built


def source_hash(source: Path) -> str:
    """SHA-256 over the program's sources, the SDK, the toolchain's Python, flags and compiler."""
    h = hashlib.sha256()
    sources = _source_files(source)
    sdk = sorted(SDK_INCLUDE.rglob("*.h"))
    toolchain = [SBPF_DIR / module for module in TOOLCHAIN_MODULES]
    for kind, files, root in (
        ("source", sources, source if source.is_dir() else source.parent),
        ("sdk", sdk, SDK_INCLUDE),
        ("toolchain", toolchain, SBPF_DIR),
    ):
        for path in files:
            h.update(f"{kind}:{path.relative_to(root)}\0".encode())
            h.update(path.read_bytes())
    h.update(" ".join(CFLAGS).encode())
    h.update(clang_version().encode())
    return h.hexdigest()


def clang_version() -> str:
    """`clang-19 --version`, or a BuildError saying how to install it."""
    return _version_of(CLANG)


@functools.cache
def _version_of(clang: str) -> str:
    executable = shutil.which(clang)
    if executable is None:
        raise BuildError(
            f"{clang} not found: the on-chain programs need Debian's clang-19 "
            "(apt-get install clang-19 llvm-19)"
        )
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True)
    return result.stdout


def _main_file(source: Path) -> tuple[Path, str]:
    if source.is_dir():
        main_c = source / f"{source.name}.c"
        if not main_c.is_file():
            raise BuildError(f"{source} holds no {source.name}.c")
        return main_c, source.name
    if source.suffix != ".c" or not source.is_file():
        raise BuildError(f"{source} is not a C file or a program folder")
    return source, source.stem


def _source_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())
    return [source]


def _compile_and_link(main_c: Path) -> bytes:
    clang_version()  # fails clearly when the compiler is missing
    with tempfile.TemporaryDirectory(prefix="evch-sbpf-") as tmp:
        obj = Path(tmp) / f"{main_c.stem}.o"
        command = [CLANG, *CFLAGS, "-I", str(SDK_INCLUDE), "-c", str(main_c), "-o", str(obj)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"{main_c}: compilation failed:\n{result.stderr.strip()}")
        try:
            return link(obj.read_bytes())
        except LinkError as error:
            raise BuildError(f"{main_c}: {error}") from error


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if args:
            built = {Path(a).stem: build_program(Path(a), BUILD_DIR) for a in args}
        else:
            built = build_all()
    except BuildError as error:
        print(f"build: error: {error}", file=sys.stderr)
        return 1
    if not built:
        print(f"no programs found (programs/<name>/<name>.c under {PROGRAMS_DIR})")
    for name, path in built.items():
        print(f"{name:24} {path.stat().st_size:>8,} bytes  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
