"""Instructions of the BPF Upgradeable Loader (loader v3) that deploy a program.

Each instruction's data is the bincode encoding of `UpgradeableLoaderInstruction`: a u32
little-endian variant index, then the variant's fields.
"""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import CLOCK, RENT

LOADER_V3_ID = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")

# UpgradeableLoaderState sizes: u32 tag, then the variant.
BUFFER_METADATA_SIZE = 4 + 1 + 32  # Buffer { authority: Option<Pubkey> }, then the ELF
PROGRAM_ACCOUNT_SIZE = 4 + 32  # Program { programdata_address }
PROGRAMDATA_METADATA_SIZE = 4 + 8 + 1 + 32  # ProgramData { slot, authority: Option<Pubkey> }

INITIALIZE_BUFFER, WRITE, DEPLOY_WITH_MAX_DATA_LEN = 0, 1, 2


def programdata_address(program_id: Pubkey) -> Pubkey:
    """The account holding a deployed program's ELF: the loader's PDA of the program id."""
    return Pubkey.find_program_address([bytes(program_id)], LOADER_V3_ID)[0]


def initialize_buffer(buffer: Pubkey, authority: Pubkey) -> Instruction:
    """InitializeBuffer: `buffer` (already allocated, owned by the loader) may be written by
    `authority`."""
    return Instruction(
        LOADER_V3_ID,
        struct.pack("<I", INITIALIZE_BUFFER),
        [AccountMeta(buffer, False, True), AccountMeta(authority, False, False)],
    )


def write(buffer: Pubkey, authority: Pubkey, offset: int, chunk: bytes) -> Instruction:
    """Write { offset: u32, bytes: Vec<u8> }: `chunk` at `offset` of the buffer's ELF."""
    return Instruction(
        LOADER_V3_ID,
        struct.pack("<IIQ", WRITE, offset, len(chunk)) + chunk,
        [AccountMeta(buffer, False, True), AccountMeta(authority, True, False)],
    )


def deploy_with_max_data_len(
    payer: Pubkey, program_id: Pubkey, buffer: Pubkey, authority: Pubkey, max_data_len: int
) -> Instruction:
    """DeployWithMaxDataLen { max_data_len: u64 }: verifies the buffer's ELF as a cluster does
    (strict), copies it into the program-data account (funded by `payer`, room for
    `max_data_len` bytes) and closes the buffer. The program account must exist, be owned by the
    loader and be PROGRAM_ACCOUNT_SIZE bytes; `authority` is the buffer's authority and becomes
    the upgrade authority."""
    return Instruction(
        LOADER_V3_ID,
        struct.pack("<IQ", DEPLOY_WITH_MAX_DATA_LEN, max_data_len),
        [
            AccountMeta(payer, True, True),
            AccountMeta(programdata_address(program_id), False, True),
            AccountMeta(program_id, False, True),
            AccountMeta(buffer, False, True),
            AccountMeta(RENT, False, False),
            AccountMeta(CLOCK, False, False),
            AccountMeta(SYSTEM_PROGRAM_ID, False, False),
            AccountMeta(authority, True, False),
        ],
    )
