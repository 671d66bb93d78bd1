"""The C toolchain for on-chain programs: SDK, build (clang-19 + link.py), deployment.

The probe program (fixtures/sdk_probe) is deployed through the real upgradeable loader, whose
strict ELF checks are those of a cluster, then invoked.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
from pathlib import Path

import pytest
from solders.clock import Clock
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import VersionedTransaction
from solders.transaction_status import InstructionErrorCustom, InstructionErrorFieldless

from programs.sbpf import build, link
from programs.sbpf.build import BuildError, build_all, build_program
from programs.sbpf.deploy import (
    PACKET_DATA_SIZE,
    TransactionFailed,
    deploy,
    deploy_steps,
    load_program,
    send,
    write_chunk_size,
)
from programs.sbpf.elf import EM_BPF, ET_DYN
from programs.sbpf.loader_v3 import LOADER_V3_ID, PROGRAMDATA_METADATA_SIZE, programdata_address
from programs.sbpf.syscalls import SYSCALLS

FIXTURES = Path(__file__).parent / "fixtures"
PROBE = FIXTURES / "sdk_probe"
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
STATE_SIZE = 128
U64_MAX = 2**64 - 1

# Fixed keys, so the PDA's bump and with it the compute units are the same on every run.
PROGRAM = Keypair.from_seed(bytes([7] * 32))
AUTHORITY = Keypair.from_seed(bytes([9] * 32))


@pytest.fixture(scope="module")
def probe_so(tmp_path_factory) -> bytes:
    return build_program(PROBE, tmp_path_factory.mktemp("build")).read_bytes()


@pytest.fixture
def probe(svm: LiteSVM, payer: Keypair, probe_so: bytes) -> Pubkey:
    return deploy(svm, payer, probe_so, program=PROGRAM)


def new_state(svm: LiteSVM, payer: Keypair, owner: Pubkey) -> Pubkey:
    state = Keypair()
    params = CreateAccountParams(
        from_pubkey=payer.pubkey(),
        to_pubkey=state.pubkey(),
        lamports=svm.minimum_balance_for_rent_exemption(STATE_SIZE),
        space=STATE_SIZE,
        owner=owner,
    )
    send(svm, payer, [create_account(params)], [state])
    return state.pubkey()


def record_ix(program: Pubkey, state: Pubkey, amount: int, payload: bytes) -> Instruction:
    pda, _ = Pubkey.find_program_address([b"probe", bytes(AUTHORITY.pubkey())], program)
    return Instruction(
        program,
        b"\x00" + struct.pack("<Q", amount) + payload,
        [
            AccountMeta(AUTHORITY.pubkey(), True, False),
            AccountMeta(state, False, True),
            AccountMeta(pda, False, False),
        ],
    )


def multiply_ix(program: Pubkey, a: int, b: int) -> Instruction:
    return Instruction(program, b"\x01" + struct.pack("<QQ", a, b), [])


def instruction_error(failure: TransactionFailed) -> tuple[int, object]:
    """(index of the failed instruction, its InstructionError)."""
    return failure.err.index, failure.err.err


# ---- build -------------------------------------------------------------------------------------


def test_build_writes_an_sbpfv0_shared_object(probe_so: bytes) -> None:
    e_type, e_machine, _, e_entry = struct.unpack_from("<HHIQ", probe_so, 16)
    (e_flags,) = struct.unpack_from("<I", probe_so, 48)
    assert probe_so[:6] == b"\x7fELF\x02\x01"
    assert (e_type, e_machine, e_flags) == (ET_DYN, EM_BPF, 0)  # e_flags 0: SBPFv0
    assert b"sol_try_find_program_address\0" in probe_so  # a syscall, bound by name at load
    assert b"entrypoint\0" in probe_so
    (e_shoff,) = struct.unpack_from("<Q", probe_so, 40)
    e_shnum, e_shstrndx = struct.unpack_from("<HH", probe_so, 60)
    headers = [struct.unpack_from("<IIQQQQ", probe_so, e_shoff + 64 * i) for i in range(e_shnum)]
    names_at = headers[e_shstrndx][4]
    sections = {
        probe_so[names_at + h[0] :].split(b"\0")[0].decode(): (h[3], h[4]) for h in headers[1:]
    }
    assert {".text", ".rodata", ".dynsym", ".dynstr", ".rel.dyn", ".dynamic"} <= set(sections)
    for name in (".text", ".rodata"):
        address, offset = sections[name]
        assert address == offset  # loaded as is: file offset == virtual address
    assert sections[".text"][0] <= e_entry


def test_a_second_build_is_a_cache_hit(tmp_path, monkeypatch) -> None:
    source = tmp_path / "sdk_probe"
    shutil.copytree(PROBE, source)
    so = build_program(source, tmp_path / "out")
    built_at = so.stat().st_mtime_ns

    def no_compiler(main_c: Path) -> bytes:
        raise AssertionError(f"{main_c} rebuilt although unchanged")

    with monkeypatch.context() as patch:
        patch.setattr(build, "_compile_and_link", no_compiler)
        assert build_program(source, tmp_path / "out") == so
    assert so.stat().st_mtime_ns == built_at

    c_file = source / "sdk_probe.c"
    c_file.write_text(c_file.read_text() + "\n/* changed */\n")
    with monkeypatch.context() as patch:
        patch.setattr(build, "_compile_and_link", no_compiler)
        with pytest.raises(AssertionError, match="rebuilt"):
            build_program(source, tmp_path / "out")


def test_build_all_builds_each_program_folder(tmp_path) -> None:
    shutil.copytree(PROBE, tmp_path / "programs" / "sdk_probe")
    (tmp_path / "programs" / "notes").mkdir()  # no notes/notes.c: not a program
    built = build_all(tmp_path / "programs", tmp_path / "build")
    assert built == {"sdk_probe": tmp_path / "build" / "sdk_probe.so"}
    assert built["sdk_probe"].read_bytes()[:4] == b"\x7fELF"


def test_writable_global_data_fails_the_build(tmp_path) -> None:
    with pytest.raises(BuildError, match=r"writable data in \.data \(calls_so_far\)"):
        build_program(FIXTURES / "writable_global.c", tmp_path)


def test_an_unknown_syscall_fails_the_build(tmp_path) -> None:
    message = "undefined symbol 'sol_launch_rockets' is not a Solana syscall"
    with pytest.raises(BuildError, match=re.escape(message)):
        build_program(FIXTURES / "unknown_syscall.c", tmp_path)


def test_a_compile_error_is_shown(tmp_path) -> None:
    source = tmp_path / "broken.c"
    source.write_text(
        "#include <evch_sdk.h>\nuint64_t entrypoint(const uint8_t *in) { return x; }\n"
    )
    with pytest.raises(BuildError, match="use of undeclared identifier 'x'"):
        build_program(source, tmp_path)


def test_a_missing_compiler_says_how_to_install_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(build, "CLANG", "clang-19-not-installed")
    with pytest.raises(BuildError, match=re.escape("apt-get install clang-19 llvm-19")):
        build_program(PROBE, tmp_path)


def test_every_syscall_the_sdk_declares_resolves_on_deploy(svm, payer, tmp_path) -> None:
    header = (build.SDK_INCLUDE / "evch_sdk.h").read_text()
    declared = sorted(set(re.findall(r"^\w[\w ]*?\b(sol_\w+)\(", header, re.MULTILINE)))
    assert len(declared) == 14 and set(declared) <= SYSCALLS
    calls = "\n".join(f"    {name}();" for name in declared)
    source = tmp_path / "every_syscall.c"
    source.write_text(
        "typedef unsigned long long u64;\n"
        + "".join(f"void {name}(void);\n" for name in declared)
        + "u64 entrypoint(const unsigned char *input) {\n  if (input[0] == 0x5A) {\n"
        + calls
        + "\n  }\n  return 0;\n}\n"
    )
    so = build_program(source, tmp_path).read_bytes()
    assert deploy(svm, payer, so)  # strict: the loader resolves every name or refuses


# ---- deploy and run ----------------------------------------------------------------------------


def test_deployed_through_the_upgradeable_loader(svm, payer, probe_so, probe) -> None:
    program_account = svm.get_account(probe)
    assert program_account.owner == LOADER_V3_ID and program_account.executable
    programdata = svm.get_account(programdata_address(probe))
    elf = bytes(programdata.data)[PROGRAMDATA_METADATA_SIZE:]
    assert elf[: len(probe_so)] == probe_so


def test_probe_parses_logs_writes_derives_reads_clock_and_returns(svm, payer, probe) -> None:
    svm.set_clock(Clock(slot=1_000, epoch_start_timestamp=0, epoch=0, leader_schedule_epoch=1,
                        unix_timestamp=1_760_000_000))  # fmt: skip
    state = new_state(svm, payer, probe)
    payload = b"charged 11 kWh at CP-001"

    result = send(svm, payer, [record_ix(probe, state, 5_000, payload)], [AUTHORITY])

    pda, bump = Pubkey.find_program_address([b"probe", bytes(AUTHORITY.pubkey())], probe)
    data = bytes(svm.get_account(state).data)
    assert struct.unpack_from("<Q", data)[0] == 5_000
    assert data[8:40] == hashlib.sha256(payload).digest()
    assert data[40:72] == bytes(pda) and data[72] == bump
    assert data[80 : 80 + len(payload)] == payload

    logs = result.logs()
    assert "Program log: probe: recorded" in logs
    assert f"Program log: {5_000:#x}, {5_000:#x}, {len(payload):#x}, {bump:#x}, {1_000:#x}" in logs
    assert f"Program log: {pda}" in logs
    assert any(re.fullmatch(r"Program consumption: \d+ units remaining", line) for line in logs)

    returned = result.return_data()
    assert returned.program_id == probe
    rent = svm.get_rent().lamports_per_byte
    assert bytes(returned.data) == struct.pack("<QQqQB", 5_000, 1_000, 1_760_000_000, rent, bump)

    # The PDA search (1,500 CU per bump tried) dominates; these keys find it at the first bump.
    assert bump == 255
    assert 1_500 < result.compute_units_consumed() < 4_000
    print(f"sdk_probe RECORD: {result.compute_units_consumed()} CU")

    again = send(svm, payer, [record_ix(probe, state, 7, b"x")], [AUTHORITY])
    assert struct.unpack_from("<Q", bytes(svm.get_account(state).data))[0] == 5_007
    assert bytes(again.return_data().data)[:8] == struct.pack("<Q", 5_007)


def test_checked_arithmetic_reports_overflow(svm, payer, probe) -> None:
    state = new_state(svm, payer, probe)
    send(svm, payer, [record_ix(probe, state, U64_MAX - 1, b"")], [AUTHORITY])
    with pytest.raises(TransactionFailed) as failure:
        send(svm, payer, [record_ix(probe, state, 2, b"")], [AUTHORITY])
    assert instruction_error(failure.value) == (0, InstructionErrorFieldless.ArithmeticOverflow)
    assert struct.unpack_from("<Q", bytes(svm.get_account(state).data))[0] == U64_MAX - 1

    cases = [(0, U64_MAX), (2**32 - 1, 2**32 + 1), (3, 6_148_914_691_236_517_205), (2**40, 2**23)]
    for a, b in cases:
        result = send(svm, payer, [multiply_ix(probe, a, b)])
        assert bytes(result.return_data().data) == struct.pack("<Q", a * b)
    for a, b in [(2**32, 2**32), (3, 6_148_914_691_236_517_206), (2**40, 2**24), (U64_MAX, 2)]:
        with pytest.raises(TransactionFailed) as failure:
            send(svm, payer, [multiply_ix(probe, a, b)])
        assert instruction_error(failure.value) == (0, InstructionErrorFieldless.ArithmeticOverflow)


def test_program_errors_map_to_the_runtime_errors(svm, payer, probe) -> None:
    not_ours = new_state(svm, payer, payer.pubkey())  # owned by someone else
    with pytest.raises(TransactionFailed) as failure:
        send(svm, payer, [record_ix(probe, not_ours, 1, b"")], [AUTHORITY])
    assert instruction_error(failure.value) == (0, InstructionErrorFieldless.IncorrectProgramId)

    with pytest.raises(TransactionFailed) as failure:
        send(svm, payer, [Instruction(probe, b"\x09", [])])
    assert instruction_error(failure.value) == (0, InstructionErrorCustom(7))


def test_duplicate_accounts_are_resolved(svm, payer, probe) -> None:
    other = Keypair().pubkey()
    metas = [
        AccountMeta(payer.pubkey(), True, True),
        AccountMeta(other, False, False),
        AccountMeta(payer.pubkey(), True, True),  # serialized as "same as account 0"
        AccountMeta(other, False, False),
    ]
    result = send(svm, payer, [Instruction(probe, b"\x02", metas)])
    keys = bytes(result.return_data().data)
    assert keys == b"".join(bytes(m.pubkey) for m in metas)


def test_a_pda_signs_a_cross_program_invocation(svm, payer, probe) -> None:
    pda, _ = Pubkey.find_program_address([b"probe", bytes(AUTHORITY.pubkey())], probe)
    metas = [
        AccountMeta(AUTHORITY.pubkey(), False, False),
        AccountMeta(pda, False, False),  # not a signer here: the program signs for it
        AccountMeta(MEMO_PROGRAM_ID, False, False),
    ]
    result = send(svm, payer, [Instruction(probe, b"\x03session 42: 11.2 kWh", metas)])
    logs = result.logs()
    assert f"Program {MEMO_PROGRAM_ID} invoke [2]" in logs
    assert logs[logs.index("Program log: Signed by:") + 1] == f"Program log: {pda}"
    assert "Program log: session 42: 11.2 kWh" in logs

    metas[1] = AccountMeta(Keypair().pubkey(), False, False)  # not the PDA: nobody can sign
    with pytest.raises(TransactionFailed, match="PrivilegeEscalation"):
        send(svm, payer, [Instruction(probe, b"\x03forged", metas)])


def test_the_loader_refuses_a_corrupt_program(svm, payer, probe_so) -> None:
    corrupt = bytearray(probe_so)
    corrupt[0x120 + 8] = 0xFF  # the second instruction of .text: no such opcode
    with pytest.raises(TransactionFailed) as failure:
        deploy(svm, payer, bytes(corrupt))
    assert instruction_error(failure.value) == (1, InstructionErrorFieldless.InvalidAccountData)
    assert "Verifier error: unknown eBPF opcode 0xff (insn #1)" in failure.value.logs

    with pytest.raises(TransactionFailed) as failure:
        deploy(svm, payer, probe_so[: len(probe_so) // 2])
    assert "Offset or value is out of bounds" in failure.value.logs


def test_only_the_strict_deploy_refuses_an_unresolved_syscall(svm, payer, tmp_path, monkeypatch):
    monkeypatch.setattr(link, "SYSCALLS", SYSCALLS | {"sol_launch_rockets"})  # skip the check
    so = build_program(FIXTURES / "unknown_syscall.c", tmp_path).read_bytes()
    load_program(svm, Pubkey.new_unique(), so)  # LiteSVM's relaxed load takes it
    with pytest.raises(TransactionFailed) as failure:
        deploy(svm, payer, so)
    assert any("Unresolved symbol (sol_launch_rockets)" in line for line in failure.value.logs)


def test_deploy_transactions_fit_a_packet(svm, payer, probe_so) -> None:
    program, buffer = Keypair(), Keypair()
    steps = deploy_steps(
        payer.pubkey(), program, buffer, probe_so, svm.minimum_balance_for_rent_exemption
    )
    chunk = write_chunk_size(payer.pubkey(), buffer.pubkey())
    assert chunk > 1_000
    assert len(steps) == 2 + -(-len(probe_so) // chunk)  # create+init, writes, create+deploy
    for step in steps:
        message = Message.new_with_blockhash(
            step.instructions, payer.pubkey(), svm.latest_blockhash()
        )
        size = len(bytes(VersionedTransaction(message, [payer, *step.signers])))
        assert size <= PACKET_DATA_SIZE  # LiteSVM would take bigger ones; a cluster does not


def test_load_program_is_the_fast_path(svm, payer, probe_so) -> None:
    program_id = Pubkey.new_unique()
    load_program(svm, program_id, probe_so)
    result = send(svm, payer, [multiply_ix(program_id, 6, 7)])
    assert bytes(result.return_data().data) == struct.pack("<Q", 42)
