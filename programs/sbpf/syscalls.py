"""The syscalls the Solana runtime provides to SBPFv0 programs, checked at build time.

The runtime binds a program's undefined functions by the murmur3 hash of their name when it loads
the program; an unknown name fails the deployment with a bare "unresolved symbol". Checking the
names here turns that into a build error that names the symbol.
"""

from __future__ import annotations

# The names the strict deploy of the upgradeable loader resolves in solders 0.29's LiteSVM, with
# its default and with the mainnet feature set alike (each was deployed in a program to check).
SYSCALLS: frozenset[str] = frozenset(
    """
    abort sol_panic_
    sol_log_ sol_log_64_ sol_log_pubkey sol_log_compute_units_ sol_log_data
    sol_memcpy_ sol_memmove_ sol_memset_ sol_memcmp_
    sol_sha256 sol_keccak256 sol_secp256k1_recover sol_poseidon
    sol_curve_validate_point sol_curve_group_op sol_curve_multiscalar_mul
    sol_curve_decompress sol_curve_pairing_map
    sol_alt_bn128_group_op sol_alt_bn128_compression
    sol_create_program_address sol_try_find_program_address
    sol_invoke_signed_c sol_invoke_signed_rust
    sol_get_clock_sysvar sol_get_epoch_schedule_sysvar sol_get_rent_sysvar
    sol_get_epoch_rewards_sysvar sol_get_last_restart_slot sol_get_sysvar sol_get_epoch_stake
    sol_get_processed_sibling_instruction sol_get_stack_height
    sol_set_return_data sol_get_return_data
    """.split()
)

# Names a C program may reach for that are not syscalls, and what to use instead.
_HINTS = {
    "memcpy": "copy with sol_memcpy_ (there is no libc on chain)",
    "memmove": "copy with sol_memmove_ (there is no libc on chain)",
    "memset": "fill with sol_memset_ (there is no libc on chain)",
    "memcmp": "compare with sol_memcmp_ or evch_pubkey_eq (there is no libc on chain)",
    "sol_alloc_free_": "deprecated: the runtime refuses new deployments that use it",
    "sol_get_fees_sysvar": "the Fees sysvar is disabled on current clusters",
}
_NOT_ACTIVE = "declared by Solana but not enabled by the runtime's features, so a deploy fails"
_HINTS |= dict.fromkeys(
    ("sol_blake3", "sol_big_mod_exp", "sol_remaining_compute_units"), _NOT_ACTIVE
)


def unknown_syscall_message(name: str) -> str:
    """Why `name` cannot be called from a program."""
    hint = _HINTS.get(name)
    if hint is None and name.startswith("__"):
        hint = "a compiler runtime helper: BPF has no 128-bit or floating-point library"
    message = f"undefined symbol {name!r} is not a Solana syscall"
    return f"{message}: {hint}" if hint else message
