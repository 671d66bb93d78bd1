/*
 * evch_sdk.h - the C SDK of EVCH's on-chain programs.
 *
 * Programs are compiled by Debian's clang-19 (`-target bpf -mcpu=v2`) and linked into a Solana
 * SBPFv0 shared object by programs/sbpf/link.py; programs/sbpf/build.py does both. This header is
 * everything a program may use: there is no libc on chain.
 *
 * A program defines
 *
 *     uint64_t entrypoint(const uint8_t *input);
 *
 * which receives the runtime's serialized input (see evch_deserialize) and returns SUCCESS or an
 * error: a small non-zero value is the custom error `Custom(n)` (shown as "custom program error:
 * 0x<n>"), and the EVCH_ERROR_* values below are the runtime's built-in program errors.
 *
 * Limits of upstream LLVM's BPF backend (the build fails loudly if you break them):
 *   - at most 5 arguments per function (pass a struct pointer for more);
 *   - no signed division or remainder (divide unsigned values; `/` and `%` on uint64_t are fine);
 *   - no 128-bit arithmetic (so no __builtin_mul_overflow: use evch_checked_mul_u64);
 *   - no memcpy/memset/memcmp of a length unknown at compile time: the compiler cannot inline
 *     them and there is no libc, so call sol_memcpy_ / sol_memset_ / sol_memcmp_ (syscalls);
 *   - no writable global or static data (.data/.bss): Solana maps a program's image read-only.
 *     `static const` tables are fine. State lives in accounts, scratch space on the stack.
 *   - each call frame has 4 KiB of stack, and calls nest at most 64 deep.
 */
#ifndef EVCH_SDK_H
#define EVCH_SDK_H

/* ---- fixed-width types (BPF is LP64, little-endian) ------------------------------------------ */

typedef __INT8_TYPE__ int8_t;
typedef __INT16_TYPE__ int16_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __SIZE_TYPE__ size_t;

#ifndef __cplusplus
#if !defined(__bool_true_false_are_defined)
#define bool _Bool
#define true 1
#define false 0
#define __bool_true_false_are_defined 1
#endif
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif

#ifndef UINT64_MAX
#define UINT64_MAX __UINT64_MAX__
#endif

_Static_assert(sizeof(void *) == 8, "SBPF pointers are 64 bits");
_Static_assert(sizeof(uint64_t) == 8, "uint64_t is 64 bits");

/* ---- return values ------------------------------------------------------------------------------ */

#define SUCCESS 0
/* The runtime's built-in errors occupy the upper 32 bits of the return value. */
#define EVCH_BUILTIN_ERROR(n) ((uint64_t)(n) << 32)
#define EVCH_ERROR_CUSTOM_ZERO EVCH_BUILTIN_ERROR(1) /* Custom(0) */
#define EVCH_ERROR_INVALID_ARGUMENT EVCH_BUILTIN_ERROR(2)
#define EVCH_ERROR_INVALID_INSTRUCTION_DATA EVCH_BUILTIN_ERROR(3)
#define EVCH_ERROR_INVALID_ACCOUNT_DATA EVCH_BUILTIN_ERROR(4)
#define EVCH_ERROR_ACCOUNT_DATA_TOO_SMALL EVCH_BUILTIN_ERROR(5)
#define EVCH_ERROR_INSUFFICIENT_FUNDS EVCH_BUILTIN_ERROR(6)
#define EVCH_ERROR_INCORRECT_PROGRAM_ID EVCH_BUILTIN_ERROR(7)
#define EVCH_ERROR_MISSING_REQUIRED_SIGNATURE EVCH_BUILTIN_ERROR(8)
#define EVCH_ERROR_ACCOUNT_ALREADY_INITIALIZED EVCH_BUILTIN_ERROR(9)
#define EVCH_ERROR_UNINITIALIZED_ACCOUNT EVCH_BUILTIN_ERROR(10)
#define EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS EVCH_BUILTIN_ERROR(11)
#define EVCH_ERROR_MAX_SEED_LENGTH_EXCEEDED EVCH_BUILTIN_ERROR(13)
#define EVCH_ERROR_INVALID_SEEDS EVCH_BUILTIN_ERROR(14)
#define EVCH_ERROR_ACCOUNT_NOT_RENT_EXEMPT EVCH_BUILTIN_ERROR(16)
#define EVCH_ERROR_ILLEGAL_OWNER EVCH_BUILTIN_ERROR(18)
#define EVCH_ERROR_INVALID_ACCOUNT_OWNER EVCH_BUILTIN_ERROR(23)
#define EVCH_ERROR_ARITHMETIC_OVERFLOW EVCH_BUILTIN_ERROR(24)
#define EVCH_ERROR_IMMUTABLE EVCH_BUILTIN_ERROR(25)
#define EVCH_ERROR_INCORRECT_AUTHORITY EVCH_BUILTIN_ERROR(26)

/* ---- accounts and parameters -------------------------------------------------------------------- */

#define SIZE_PUBKEY 32
/* Room the runtime leaves after each account's data so a program may grow it (realloc). */
#define MAX_PERMITTED_DATA_INCREASE (10 * 1024)
/* Seeds of a program-derived address: at most 16 seeds (bump included) of at most 32 bytes. */
#define MAX_SEEDS 16
#define MAX_SEED_LEN 32
/* Return data is at most 1 KiB. */
#define MAX_RETURN_DATA 1024

typedef struct {
  uint8_t x[SIZE_PUBKEY];
} SolPubkey;

/*
 * One account of the instruction. The pointers point into the input buffer, so writing through
 * `data` or `lamports` changes the account (the runtime checks the program was allowed to).
 * The layout is part of the runtime's ABI: sol_invoke_signed_c reads an array of these.
 */
typedef struct {
  SolPubkey *key;
  uint64_t *lamports;
  uint64_t data_len;
  uint8_t *data;
  SolPubkey *owner;
  uint64_t rent_epoch;
  bool is_signer;
  bool is_writable;
  bool executable; /* the account is a program */
} SolAccountInfo;

/* What evch_deserialize fills in. The caller provides `ka`, an array of `ka_num` entries. */
typedef struct {
  SolAccountInfo *ka;          /* the accounts, in instruction order (duplicates copied) */
  uint64_t ka_num;             /* how many of them were filled in */
  const uint8_t *data;         /* the instruction data */
  uint64_t data_len;
  const SolPubkey *program_id; /* this program's address */
} SolParameters;

/* ---- cross-program invocation (layouts read by sol_invoke_signed_c) ------------------------------ */

typedef struct {
  SolPubkey *pubkey;
  bool is_writable;
  bool is_signer;
} SolAccountMeta;

typedef struct {
  SolPubkey *program_id;
  SolAccountMeta *accounts;
  uint64_t account_len;
  uint8_t *data;
  uint64_t data_len;
} SolInstruction;

/* One seed of a program-derived address: `len` bytes at `addr`. */
typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SolSignerSeed;

/* The seeds (bump included) of one PDA that signs an invoked instruction. */
typedef struct {
  const SolSignerSeed *addr;
  uint64_t len;
} SolSignerSeeds;

/* A byte slice, as sol_sha256 takes its input pieces. */
typedef struct {
  const uint8_t *addr;
  uint64_t len;
} SolBytes;

/* ---- sysvars ---------------------------------------------------------------------------------------- */

/* The Clock sysvar (40 bytes), as sol_get_clock_sysvar writes it. */
typedef struct {
  uint64_t slot;
  int64_t epoch_start_timestamp; /* unix seconds */
  uint64_t epoch;
  uint64_t leader_schedule_epoch;
  int64_t unix_timestamp;        /* unix seconds, the cluster's estimate of now */
} SolClock;
_Static_assert(sizeof(SolClock) == 40, "Clock sysvar is 40 bytes");

/*
 * The Rent sysvar (24 bytes with padding), as sol_get_rent_sysvar writes it. An account of n data
 * bytes is rent-exempt from (128 + n) * lamports_per_byte * exemption_threshold lamports. The
 * runtime in solders 0.29 says 6,960 and 1.0; older runtimes called the first field
 * lamports_per_byte_year (3,480, with a threshold of 2.0), the same balance. Both names work.
 */
typedef struct {
  union {
    uint64_t lamports_per_byte;
    uint64_t lamports_per_byte_year;
  };
  uint8_t exemption_threshold[8]; /* an f64; BPF has no floating point, so kept as its bytes */
  uint8_t burn_percent;
  uint8_t _padding[7];
} SolRent;
_Static_assert(sizeof(SolRent) == 24, "Rent sysvar is 24 bytes");

/* ---- syscalls ------------------------------------------------------------------------------------- */
/*
 * Undefined functions: link.py leaves each call as `call -1` with a dynamic relocation against the
 * name, and the runtime binds it by the murmur3 hash of that name when it loads the program.
 * link.py refuses any undefined name the runtime does not provide. Those returning uint64_t return
 * 0 on success.
 */

/* Log `len` bytes of text ("Program log: ..."). Use evch_log for a string literal. */
void sol_log_(const char *message, uint64_t len);
/* Log five numbers (as hexadecimal). */
void sol_log_64_(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e);
/* Log a public key (base58). */
void sol_log_pubkey(const SolPubkey *key);
/* Log the compute units left ("Program consumption: N units remaining"). */
void sol_log_compute_units_(void);

/* memcpy: the regions must not overlap (the runtime checks). */
void sol_memcpy_(void *dst, const void *src, uint64_t n);
void sol_memset_(void *dst, uint8_t value, uint64_t n);
/* Compares n bytes; *result is <0, 0 or >0 as memcmp's return value. */
void sol_memcmp_(const void *a, const void *b, uint64_t n, int32_t *result);

/* SHA-256 of the concatenation of `count` slices, into result[32]. */
uint64_t sol_sha256(const SolBytes *slices, uint64_t count, uint8_t *result);

/* The program-derived address of `seeds` (bump included); fails if it lies on the curve. */
uint64_t sol_create_program_address(const SolSignerSeed *seeds, uint64_t count,
                                    const SolPubkey *program_id, SolPubkey *address);
/* Searches bumps 255, 254, ... for the first off-curve address. Costs 1,500 CU per try. */
uint64_t sol_try_find_program_address(const SolSignerSeed *seeds, uint64_t count,
                                      const SolPubkey *program_id, SolPubkey *address,
                                      uint8_t *bump);

/*
 * Invoke another program. `infos` must hold every account the instruction names (and the invoked
 * program's account); `signers` are the seeds of the PDAs of this program that sign it.
 */
uint64_t sol_invoke_signed_c(const SolInstruction *instruction, const SolAccountInfo *infos,
                             uint64_t infos_count, const SolSignerSeeds *signers,
                             uint64_t signers_count);

uint64_t sol_get_clock_sysvar(SolClock *clock);
uint64_t sol_get_rent_sysvar(SolRent *rent);

/* Set this instruction's return data (at most MAX_RETURN_DATA bytes), read by the caller. */
void sol_set_return_data(const uint8_t *data, uint64_t len);

/* ---- helpers ---------------------------------------------------------------------------------------- */

/* Log a string literal (its length is known at compile time). */
#define evch_log(literal) sol_log_((literal), sizeof(literal) - 1)

static inline bool evch_pubkey_eq(const SolPubkey *a, const SolPubkey *b) {
  int32_t result = 1;
  sol_memcmp_(a, b, SIZE_PUBKEY, &result);
  return result == 0;
}

/* Unaligned little-endian integers (instruction data and account data need not be aligned). */
static inline uint64_t evch_read_u64_le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline void evch_write_u64_le(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t evch_read_u32_le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void evch_write_u32_le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Checked arithmetic: true and *out = the result, or false (and *out untouched) on overflow. */
static inline bool evch_checked_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
  uint64_t sum = a + b;
  if (sum < a) return false;
  *out = sum;
  return true;
}

static inline bool evch_checked_sub_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (b > a) return false;
  *out = a - b;
  return true;
}

/*
 * On 32-bit halves: BPF has no 128-bit multiply, and LLVM rewrites the usual `b > UINT64_MAX / a`
 * test into one (the build then fails on `__multi3`).
 */
static inline bool evch_checked_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  uint64_t a_hi = a >> 32, a_lo = a & 0xFFFFFFFFu, b_hi = b >> 32, b_lo = b & 0xFFFFFFFFu;
  if (a_hi != 0 && b_hi != 0) return false;
  uint64_t cross = a_hi * b_lo + a_lo * b_hi; /* one term is 0, the other < 2^64 */
  if (cross >> 32) return false;
  uint64_t low = a_lo * b_lo;
  uint64_t product = (cross << 32) + low;
  if (product < low) return false;
  *out = product;
  return true;
}

/* ---- the program input -------------------------------------------------------------------------- */
/*
 * The upgradeable loader (and BPF loader v2) hand the program one buffer, 8-byte aligned:
 *
 *   u64 number of accounts, then for each account either
 *     u8 index of an earlier account it duplicates, 7 bytes padding            (8 bytes), or
 *     u8 0xFF, u8 is_signer, u8 is_writable, u8 executable, 4 bytes padding,
 *     key[32], owner[32], u64 lamports, u64 data_len, data[data_len],
 *     MAX_PERMITTED_DATA_INCREASE bytes of room, padding to a multiple of 8, u64 rent_epoch;
 *   u64 instruction data length, the instruction data, the program id[32].
 *
 * evch_deserialize fills params->ka (which the caller allocates with `capacity` entries) with
 * the first `capacity` accounts, skips any further ones, and sets the instruction data and
 * program id. params->ka_num is the number filled in; it returns the number in the input.
 */
#define EVCH_NON_DUP_MARKER 0xFF

static inline uint64_t evch_deserialize(const uint8_t *input, SolParameters *params,
                                        uint64_t capacity) {
  uint64_t count = *(const uint64_t *)input;
  input += sizeof(uint64_t);
  for (uint64_t i = 0; i < count; i++) {
    uint8_t dup = *input;
    if (dup != EVCH_NON_DUP_MARKER) {
      if (i < capacity) params->ka[i] = params->ka[dup]; /* dup < i, so already filled */
      input += 8;
      continue;
    }
    SolAccountInfo skipped;
    SolAccountInfo *a = i < capacity ? &params->ka[i] : &skipped;
    a->is_signer = input[1] != 0;
    a->is_writable = input[2] != 0;
    a->executable = input[3] != 0;
    input += 8;
    a->key = (SolPubkey *)input;
    input += SIZE_PUBKEY;
    a->owner = (SolPubkey *)input;
    input += SIZE_PUBKEY;
    a->lamports = (uint64_t *)input;
    input += sizeof(uint64_t);
    a->data_len = *(const uint64_t *)input;
    input += sizeof(uint64_t);
    a->data = (uint8_t *)input;
    input += a->data_len + MAX_PERMITTED_DATA_INCREASE;
    input = (const uint8_t *)(((uint64_t)input + 7) & ~(uint64_t)7);
    a->rent_epoch = *(const uint64_t *)input;
    input += sizeof(uint64_t);
  }
  params->ka_num = count < capacity ? count : capacity;
  params->data_len = *(const uint64_t *)input;
  input += sizeof(uint64_t);
  params->data = input;
  input += params->data_len;
  params->program_id = (const SolPubkey *)input;
  return count;
}

#endif /* EVCH_SDK_H */
