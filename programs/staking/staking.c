/* staking.c - the EVCH staking program (C, built to SBPFv0 by programs/sbpf).
 *
 * Owners lock EVCH in a vault for a chosen time; each lock is a position account that records
 * what actually arrived in the vault (the vault's balance after the transfer less before it, so
 * a Token-2022 transfer fee withheld on the way is not counted), when the lock ends (Clock
 * sysvar) and the fee-discount tier it qualifies for. Only the position's owner takes the tokens
 * back, at or after the end of the lock; the position then closes and its rent goes back to them.
 *
 * Accounts (every program-owned account starts with a kind byte; layouts below, mirrored by
 * programs/staking/client.py):
 *   config   PDA ["staking_config"]                 CONFIG_LEN bytes, kind 1
 *   vault    PDA ["vault"]: owns the vault token account and signs the transfers out of it
 *   position PDA ["position", owner, nonce u64 LE]  POSITION_LEN bytes, kind 2
 *
 * Instructions (data: first byte the tag, then little-endian fields, no padding):
 *   0 Initialize  min_lock_s u64, max_lock_s u64, tier table
 *       accounts: 0 admin (signer, w: pays), 1 config PDA (w), 2 vault PDA, 3 vault token account
 *                 (of the mint, owned by the vault PDA, created beforehand), 4 mint,
 *                 5 token program (Token-2022 or Token), 6 system program, 7 this program,
 *                 8 its ProgramData (the admin must be the upgrade authority, if it has one)
 *   1 SetTiers    tier table            accounts: 0 admin (signer), 1 config (w)
 *   2 Stake       amount u64, lock_s u64, nonce u64
 *       accounts: 0 owner (signer, w: pays the position), 1 config (w), 2 position PDA (w),
 *                 3 owner's token account (w), 4 vault token account (w), 5 mint,
 *                 6 token program, 7 system program
 *   3 Unstake     (no data)
 *       accounts: 0 owner (signer, w), 1 config (w), 2 position (w), 3 destination token
 *                 account (w), 4 vault token account (w), 5 mint, 6 vault PDA, 7 token program
 *   4 SetPaused   paused u8 (0 or 1)    accounts: 0 admin (signer), 1 config (w)
 *                 (paused: Stake and Unstake both refused, an emergency stop)
 *   5 SetLockup   min_lock_s u64, max_lock_s u64 (<= INT64_MAX)   accounts: as SetPaused
 *   6 SetAdmin    (no data)   accounts: 0 admin (signer), 1 config (w), 2 new admin (signer)
 *   tier table: count u8 (<= 8), count x (min_amount u64, min_lock_s u64, discount_bps u16)
 *
 * A position's tier is the one with the largest discount whose minimum amount (what arrived) and
 * minimum lock it meets, fixed when it is staked; an owner's tier is the best among their locked
 * positions, computed off chain (client.tier_of).
 *
 * Errors: custom program errors, enum StakingError (mirrored by client.StakingError).
 */
#include "evch_sdk.h"

/* ---- errors: custom program error codes (client.py StakingError mirrors them) ------------- */
enum StakingError {
  /* from 6000 up, clear of the token and system programs' own codes (0-38), which an invoked
   * program's failure passes through unchanged */
  ERR_NOT_ADMIN = 6000,
  ERR_NOT_OWNER = 6001,
  ERR_EARLY_UNSTAKE = 6002,
  ERR_PAUSED = 6003,
  ERR_ZERO_AMOUNT = 6004,
  ERR_ARITHMETIC_OVERFLOW = 6005,
  ERR_INVALID_ACCOUNT = 6006,
  ERR_INVALID_INSTRUCTION = 6007,
  ERR_TOO_MANY_TIERS = 6008,
  ERR_INVALID_LOCKUP = 6009,
  ERR_ALREADY_INITIALIZED = 6010,
};

/* ---- instructions: first byte of the instruction data ----------------------------------- */
enum StakingInstruction {
  IX_INITIALIZE = 0, /* min_lock_s u64, max_lock_s u64, tier table */
  IX_SET_TIERS = 1,  /* tier table */
  IX_STAKE = 2,      /* amount u64, lock_s u64, nonce u64 */
  IX_UNSTAKE = 3,    /* (none) */
  IX_SET_PAUSED = 4, /* paused u8 */
  IX_SET_LOCKUP = 5, /* min_lock_s u64, max_lock_s u64 */
  IX_SET_ADMIN = 6,  /* (none): the new admin signs */
};
/* tier table in instruction data: count u8, then count x (min_amount u64, min_lock_s u64,
 * discount_bps u16) */
#define TIER_WIRE_LEN 18
#define MAX_TIERS 8
#define MAX_DISCOUNT_BPS 10000
#define INT64_MAX_U 0x7FFFFFFFFFFFFFFFULL

/* ---- account layouts (account data is 8-byte aligned in the program input) -------------- */
#define KIND_CONFIG 1
#define KIND_POSITION 2
#define LAYOUT_VERSION 1

typedef struct {
  uint64_t min_amount;  /* raw token units actually staked */
  uint64_t min_lock_s;  /* lock length in seconds */
  uint16_t discount_bps;
  uint8_t _pad[6];
} Tier; /* 24 bytes */

typedef struct {
  uint8_t kind;         /* 0: KIND_CONFIG */
  uint8_t version;      /* 1 */
  uint8_t bump;         /* 2: bump of ["staking_config"] */
  uint8_t vault_bump;   /* 3: bump of ["vault"] */
  uint8_t paused;       /* 4 */
  uint8_t tier_count;   /* 5 */
  uint8_t decimals;     /* 6: of the mint */
  uint8_t _pad;         /* 7 */
  SolPubkey admin;      /* 8 */
  SolPubkey mint;       /* 40 */
  SolPubkey vault;      /* 72: the vault token account */
  SolPubkey vault_authority; /* 104: PDA ["vault"] */
  SolPubkey token_program;   /* 136 */
  uint64_t total_staked;     /* 168: raw units held for open positions */
  uint64_t open_positions;   /* 176 */
  uint64_t min_lock_s;       /* 184 */
  uint64_t max_lock_s;       /* 192 */
  Tier tiers[MAX_TIERS];     /* 200 */
} Config;                    /* 392 bytes */
#define CONFIG_LEN 392

typedef struct {
  uint8_t kind;          /* 0: KIND_POSITION */
  uint8_t version;       /* 1 */
  uint8_t bump;          /* 2 */
  uint8_t tier;          /* 3: 1-based index into the tier table at stake time, 0 = none */
  uint16_t discount_bps; /* 4: that tier's discount at stake time */
  uint8_t _pad[2];       /* 6 */
  SolPubkey owner;       /* 8 */
  uint64_t nonce;        /* 40 */
  uint64_t amount;       /* 48: raw units that arrived in the vault */
  uint64_t deposited;    /* 56: raw units the owner sent (amount + transfer fee) */
  int64_t lock_start;    /* 64: unix seconds */
  int64_t lock_end;      /* 72: unix seconds */
} Position;              /* 80 bytes */
#define POSITION_LEN 80

_Static_assert(sizeof(Tier) == 24, "Tier layout");
_Static_assert(sizeof(Config) == CONFIG_LEN, "Config layout");
_Static_assert(sizeof(Position) == POSITION_LEN, "Position layout");

/* SPL token account (Token and Token-2022 share the base layout) */
#define TOKEN_ACCOUNT_LEN 165
#define TA_MINT 0
#define TA_OWNER 32
#define TA_AMOUNT 64
#define TA_DELEGATE_TAG 72
#define TA_STATE 108
#define TA_CLOSE_AUTHORITY_TAG 129
/* Token-2022: an account longer than TOKEN_ACCOUNT_LEN says what it is in the byte after */
#define T22_ACCOUNT_TYPE TOKEN_ACCOUNT_LEN
#define T22_ACCOUNT_TYPE_MINT 1
#define T22_ACCOUNT_TYPE_ACCOUNT 2
/* SPL mint */
#define MINT_LEN 82
#define MINT_DECIMALS 44
#define MINT_INITIALIZED 45

#define TOKEN_TRANSFER_CHECKED 12
#define SYSTEM_CREATE_ACCOUNT 0
#define SYSTEM_ASSIGN 1
#define SYSTEM_TRANSFER 2
#define SYSTEM_ALLOCATE 8

static const uint8_t SEED_CONFIG[] = "staking_config";
static const uint8_t SEED_VAULT[] = "vault";
static const uint8_t SEED_POSITION[] = "position";
#define SEED_LEN(s) (sizeof(s) - 1)

/* TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb and TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA */
static const SolPubkey TOKEN_2022_ID = {{
    0x06, 0xdd, 0xf6, 0xe1, 0xee, 0x75, 0x8f, 0xde,
    0x18, 0x42, 0x5d, 0xbc, 0xe4, 0x6c, 0xcd, 0xda,
    0xb6, 0x1a, 0xfc, 0x4d, 0x83, 0xb9, 0x0d, 0x27,
    0xfe, 0xbd, 0xf9, 0x28, 0xd8, 0xa1, 0x8b, 0xfc}};
static const SolPubkey TOKEN_ID = {{
    0x06, 0xdd, 0xf6, 0xe1, 0xd7, 0x65, 0xa1, 0x93,
    0xd9, 0xcb, 0xe1, 0x46, 0xce, 0xeb, 0x79, 0xac,
    0x1c, 0xb4, 0x85, 0xed, 0x5f, 0x5b, 0x37, 0x91,
    0x3a, 0x8c, 0xf5, 0x85, 0x7e, 0xff, 0x00, 0xa9}};
static const SolPubkey SYSTEM_ID = {{0}};

/* ---- small helpers --------------------------------------------------------------------- */
static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static int64_t now_unix(void) {
  SolClock clock;
  sol_get_clock_sysvar(&clock);
  return clock.unix_timestamp;
}

/* Rent-exempt minimum for `space` bytes: ((128 + space) * lamports_per_byte) as f64
 * * exemption_threshold, as the runtime computes it, with the f64 decoded by hand (no floating
 * point on BPF); exact for thresholds with a short mantissa (the cluster's 2.0 and 1.0). */
static uint64_t rent_exempt_minimum(uint64_t space) {
  SolRent rent;
  sol_get_rent_sysvar(&rent);
  if ((rent.lamports_per_byte >> 32) || (space >> 20)) return ~0ULL;
  uint64_t base = (128 + space) * rent.lamports_per_byte;
  uint64_t bits = evch_read_u64_le(rent.exemption_threshold);
  uint64_t exp = (bits >> 52) & 0x7FF;
  if (exp == 0 || (bits >> 63)) return 0;
  uint64_t mant = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
  while (!(mant & 1)) {
    mant >>= 1;
    exp++;
  }
  /* keep the product within 64 bits; a long mantissa is rounded up (a few lamports more) */
  while (mant >> 32) {
    mant = (mant >> 1) + (mant & 1);
    exp++;
  }
  if (base >> 32) return ~0ULL;
  uint64_t v = base * mant;
  if (exp >= 1075) {
    uint64_t sh = exp - 1075;
    if (sh > 0 && (sh >= 64 || (v >> (64 - sh)))) return ~0ULL;
    return v << sh;
  }
  uint64_t sh = 1075 - exp;
  return sh >= 64 ? 0 : v >> sh;
}

/* ---- cross-program invocation ---------------------------------------------------------- */
/* Every account of this instruction is offered to the callee; the runtime picks its own. */
static uint64_t cpi(const SolParameters *p, const SolInstruction *ix,
                    const SolSignerSeeds *signer) {
  return sol_invoke_signed_c(ix, p->ka, p->ka_num, signer, signer ? 1 : 0);
}

/* Create the program-owned account `target` (a PDA signed for by `signer`) of `space` bytes,
 * rent-exempt, paid by `payer`. An address that already holds lamports (sent there by anyone
 * beforehand) cannot take CreateAccount: top it up, Allocate and Assign instead. */
static uint64_t create_pda_account(const SolParameters *p, SolAccountInfo *payer,
                                   SolAccountInfo *target, uint64_t space,
                                   const SolSignerSeeds *signer) {
  SolPubkey *sys = (SolPubkey *)&SYSTEM_ID;
  uint64_t need = rent_exempt_minimum(space);
  uint64_t have = *target->lamports;
  uint8_t data[52];
  uint64_t rc;
  if (have == 0) {
    evch_write_u32_le(data, SYSTEM_CREATE_ACCOUNT);
    evch_write_u64_le(data + 4, need);
    evch_write_u64_le(data + 12, space);
    sol_memcpy_(data + 20, p->program_id, sizeof(SolPubkey));
    SolAccountMeta metas[2] = {{payer->key, true, true}, {target->key, true, true}};
    SolInstruction ix = {sys, metas, 2, data, 52};
    return cpi(p, &ix, signer);
  }
  if (have < need) {
    evch_write_u32_le(data, SYSTEM_TRANSFER);
    evch_write_u64_le(data + 4, need - have);
    SolAccountMeta metas[2] = {{payer->key, true, true}, {target->key, true, false}};
    SolInstruction ix = {sys, metas, 2, data, 12};
    rc = cpi(p, &ix, NULL); /* signed by the payer, who signed this transaction */
    if (rc) return rc;
  }
  SolAccountMeta meta = {target->key, true, true};
  SolInstruction ix = {sys, &meta, 1, data, 12};
  evch_write_u32_le(data, SYSTEM_ALLOCATE);
  evch_write_u64_le(data + 4, space);
  rc = cpi(p, &ix, signer);
  if (rc) return rc;
  evch_write_u32_le(data, SYSTEM_ASSIGN);
  sol_memcpy_(data + 4, p->program_id, sizeof(SolPubkey));
  ix.data_len = 36;
  return cpi(p, &ix, signer);
}

/* Token-2022 (or Token) TransferChecked: amount u64, decimals u8 */
static uint64_t transfer_checked(const SolParameters *p, SolAccountMeta *metas,
                                 const Config *cfg, uint64_t amount,
                                 const SolSignerSeeds *signer) {
  uint8_t data[10];
  data[0] = TOKEN_TRANSFER_CHECKED;
  evch_write_u64_le(data + 1, amount);
  data[9] = cfg->decimals;
  SolInstruction ix = {(SolPubkey *)&cfg->token_program, metas, 4, data, sizeof(data)};
  return cpi(p, &ix, signer);
}

static uint64_t token_amount(const SolAccountInfo *account) {
  return *(const uint64_t *)(account->data + TA_AMOUNT);
}

/* ---- account checks -------------------------------------------------------------------- */
static uint64_t load_config(const SolParameters *p, const SolAccountInfo *ai, Config **out) {
  if (!evch_pubkey_eq(ai->owner, p->program_id) || ai->data_len < CONFIG_LEN || !ai->is_writable)
    return ERR_INVALID_ACCOUNT;
  Config *cfg = (Config *)ai->data;
  if (cfg->kind != KIND_CONFIG) return ERR_INVALID_ACCOUNT;
  *out = cfg;
  return 0;
}

/* The accounts shared by Stake and Unstake: the vault token account, the mint, the token
 * program are the ones named in the config. */
static uint64_t check_token_accounts(const Config *cfg, const SolAccountInfo *vault,
                                     const SolAccountInfo *mint,
                                     const SolAccountInfo *token_program) {
  if (!evch_pubkey_eq(vault->key, &cfg->vault) || !vault->is_writable ||
      !evch_pubkey_eq(vault->owner, &cfg->token_program) || vault->data_len < TOKEN_ACCOUNT_LEN)
    return ERR_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(mint->key, &cfg->mint) ||
      !evch_pubkey_eq(token_program->key, &cfg->token_program))
    return ERR_INVALID_ACCOUNT;
  return 0;
}

/* tier table from instruction data: count u8, count x (u64, u64, u16) */
static uint64_t parse_tiers(const uint8_t *data, uint64_t len, Tier *out, uint8_t *count) {
  if (len < 1) return ERR_INVALID_INSTRUCTION;
  uint64_t n = data[0];
  if (n > MAX_TIERS) return ERR_TOO_MANY_TIERS;
  if (len != 1 + n * TIER_WIRE_LEN) return ERR_INVALID_INSTRUCTION;
  sol_memset_(out, 0, sizeof(Tier) * MAX_TIERS);
  for (uint64_t i = 0; i < n; i++) {
    const uint8_t *t = data + 1 + i * TIER_WIRE_LEN;
    out[i].min_amount = evch_read_u64_le(t);
    out[i].min_lock_s = evch_read_u64_le(t + 8);
    out[i].discount_bps = rd_u16(t + 16);
    if (out[i].discount_bps > MAX_DISCOUNT_BPS) return ERR_INVALID_INSTRUCTION;
  }
  *count = (uint8_t)n;
  return 0;
}

/* The tier an (amount, lock) qualifies for: the largest discount among the tiers whose minimum
 * amount and minimum lock it meets (the first on a tie); 1-based, 0 = none. */
static uint8_t best_tier(const Config *cfg, uint64_t amount, uint64_t lock_s) {
  uint8_t best = 0;
  uint16_t best_bps = 0;
  for (uint8_t i = 0; i < cfg->tier_count && i < MAX_TIERS; i++) {
    const Tier *t = &cfg->tiers[i];
    if (amount < t->min_amount || lock_s < t->min_lock_s) continue;
    if (best == 0 || t->discount_bps > best_bps) {
      best = i + 1;
      best_bps = t->discount_bps;
    }
  }
  return best;
}

/* ---- Initialize ------------------------------------------------------------------------ */
/* Accounts: 0 admin (signer, writable: pays), 1 config PDA (w), 2 vault authority PDA,
 * 3 vault token account, 4 mint, 5 token program, 6 system program, 7 this program,
 * 8 its program data (upgradeable loader; the admin must be the upgrade authority).
 * Data: min_lock_s u64, max_lock_s u64, tier table. */
#define BPF_LOADER_UPGRADEABLE_TAG_PROGRAM 2
#define BPF_LOADER_UPGRADEABLE_TAG_PROGRAM_DATA 3
/* BPFLoaderUpgradeab1e11111111111111111111111 and BPFLoader2111111111111111111111111111111111 */
static const SolPubkey LOADER_UPGRADEABLE_ID = {{
    0x02, 0xa8, 0xf6, 0x91, 0x4e, 0x88, 0xa1, 0xb0,
    0xe2, 0x10, 0x15, 0x3e, 0xf7, 0x63, 0xae, 0x2b,
    0x00, 0xc2, 0xb9, 0x3d, 0x16, 0xc1, 0x24, 0xd2,
    0xc0, 0x53, 0x7a, 0x10, 0x04, 0x80, 0x00, 0x00}};
static const SolPubkey LOADER_V2_ID = {{
    0x02, 0xa8, 0xf6, 0x91, 0x4e, 0x88, 0xa1, 0x6e,
    0x39, 0x5a, 0xe1, 0x28, 0x94, 0x8f, 0xfa, 0x69,
    0x56, 0x93, 0x37, 0x68, 0x18, 0xdd, 0x47, 0x43,
    0x52, 0x21, 0xf3, 0xc6, 0x00, 0x00, 0x00, 0x00}};

/* Whoever deployed the program initialises it, not whoever comes first: with the upgradeable
 * loader the admin must be the program's upgrade authority. A program without one (deployed
 * immutable, as LiteSVM's add_program and loader v2 do) has nobody to ask: initialise it before
 * giving up the authority, or in the same breath as the deployment. */
static uint64_t check_deployer(const SolParameters *p, const SolAccountInfo *admin,
                               const SolAccountInfo *program, const SolAccountInfo *programdata) {
  if (!evch_pubkey_eq(program->key, p->program_id)) return ERR_INVALID_ACCOUNT;
  if (evch_pubkey_eq(program->owner, &LOADER_V2_ID)) return 0;
  if (!evch_pubkey_eq(program->owner, &LOADER_UPGRADEABLE_ID) || program->data_len < 36 ||
      evch_read_u32_le(program->data) != BPF_LOADER_UPGRADEABLE_TAG_PROGRAM ||
      !evch_pubkey_eq((const SolPubkey *)(program->data + 4), programdata->key) ||
      !evch_pubkey_eq(programdata->owner, &LOADER_UPGRADEABLE_ID) || programdata->data_len < 45 ||
      evch_read_u32_le(programdata->data) != BPF_LOADER_UPGRADEABLE_TAG_PROGRAM_DATA)
    return ERR_INVALID_ACCOUNT;
  /* ProgramData { slot u64, upgrade_authority_address Option<Pubkey> } after the u32 tag */
  if (programdata->data[12] == 0) return 0; /* immutable */
  if (!evch_pubkey_eq((const SolPubkey *)(programdata->data + 13), admin->key))
    return ERR_NOT_ADMIN;
  return 0;
}

static uint64_t process_initialize(SolParameters *p) {
  if (p->ka_num < 9) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  SolAccountInfo *admin = &p->ka[0], *cfg_ai = &p->ka[1], *vault_auth = &p->ka[2];
  SolAccountInfo *vault = &p->ka[3], *mint = &p->ka[4], *token_program = &p->ka[5];
  if (p->data_len < 17) return ERR_INVALID_INSTRUCTION;
  uint64_t min_lock = evch_read_u64_le(p->data + 1), max_lock = evch_read_u64_le(p->data + 9);
  if (min_lock > max_lock || max_lock > INT64_MAX_U) return ERR_INVALID_LOCKUP;
  Tier tiers[MAX_TIERS];
  uint8_t tier_count = 0;
  uint64_t rc = parse_tiers(p->data + 17, p->data_len - 17, tiers, &tier_count);
  if (rc) return rc;

  if (!admin->is_signer) return ERR_NOT_ADMIN;
  rc = check_deployer(p, admin, &p->ka[7], &p->ka[8]);
  if (rc) return rc;
  if (!admin->is_writable || !cfg_ai->is_writable || !evch_pubkey_eq(p->ka[6].key, &SYSTEM_ID))
    return ERR_INVALID_ACCOUNT;
  if (evch_pubkey_eq(cfg_ai->owner, p->program_id)) return ERR_ALREADY_INITIALIZED;

  uint8_t bump = 0, vault_bump = 0;
  SolPubkey pda;
  SolSignerSeed seeds[2] = {{SEED_CONFIG, SEED_LEN(SEED_CONFIG)}, {&bump, 1}};
  if (sol_try_find_program_address(seeds, 1, p->program_id, &pda, &bump) ||
      !evch_pubkey_eq(&pda, cfg_ai->key))
    return ERR_INVALID_ACCOUNT;
  SolSignerSeed vault_seeds[1] = {{SEED_VAULT, SEED_LEN(SEED_VAULT)}};
  if (sol_try_find_program_address(vault_seeds, 1, p->program_id, &pda, &vault_bump) ||
      !evch_pubkey_eq(&pda, vault_auth->key))
    return ERR_INVALID_ACCOUNT;

  /* the token program, the mint and the vault token account it holds for the vault PDA */
  if (!evch_pubkey_eq(token_program->key, &TOKEN_2022_ID) &&
      !evch_pubkey_eq(token_program->key, &TOKEN_ID))
    return ERR_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(mint->owner, token_program->key) || mint->data_len < MINT_LEN ||
      mint->data[MINT_INITIALIZED] != 1 ||
      (mint->data_len > TOKEN_ACCOUNT_LEN &&
       mint->data[T22_ACCOUNT_TYPE] != T22_ACCOUNT_TYPE_MINT))
    return ERR_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(vault->owner, token_program->key) || vault->data_len < TOKEN_ACCOUNT_LEN ||
      (vault->data_len > TOKEN_ACCOUNT_LEN &&
       vault->data[T22_ACCOUNT_TYPE] != T22_ACCOUNT_TYPE_ACCOUNT) ||
      !evch_pubkey_eq((const SolPubkey *)(vault->data + TA_MINT), mint->key) ||
      !evch_pubkey_eq((const SolPubkey *)(vault->data + TA_OWNER), vault_auth->key) ||
      vault->data[TA_STATE] == 0 || /* uninitialised; frozen is fine: KYC thaws it */
      *(const uint32_t *)(vault->data + TA_DELEGATE_TAG) != 0 ||
      *(const uint32_t *)(vault->data + TA_CLOSE_AUTHORITY_TAG) != 0)
    return ERR_INVALID_ACCOUNT;

  SolSignerSeeds signer = {seeds, 2};
  rc = create_pda_account(p, admin, cfg_ai, CONFIG_LEN, &signer);
  if (rc) return rc;
  if (cfg_ai->data_len < CONFIG_LEN) return ERR_INVALID_ACCOUNT;
  Config *cfg = (Config *)cfg_ai->data;
  sol_memset_(cfg, 0, CONFIG_LEN);
  cfg->kind = KIND_CONFIG;
  cfg->version = LAYOUT_VERSION;
  cfg->bump = bump;
  cfg->vault_bump = vault_bump;
  cfg->tier_count = tier_count;
  cfg->decimals = mint->data[MINT_DECIMALS];
  sol_memcpy_(&cfg->admin, admin->key, sizeof(SolPubkey));
  sol_memcpy_(&cfg->mint, mint->key, sizeof(SolPubkey));
  sol_memcpy_(&cfg->vault, vault->key, sizeof(SolPubkey));
  sol_memcpy_(&cfg->vault_authority, vault_auth->key, sizeof(SolPubkey));
  sol_memcpy_(&cfg->token_program, token_program->key, sizeof(SolPubkey));
  cfg->min_lock_s = min_lock;
  cfg->max_lock_s = max_lock;
  sol_memcpy_(cfg->tiers, tiers, sizeof(tiers));
  return SUCCESS;
}

/* ---- admin instructions: 0 admin (signer), 1 config (w) [, 2 new admin (signer)] ---------- */
static uint64_t process_admin(SolParameters *p, uint8_t tag) {
  if (p->ka_num < 2) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  Config *cfg;
  uint64_t rc = load_config(p, &p->ka[1], &cfg);
  if (rc) return rc;
  if (!p->ka[0].is_signer || !evch_pubkey_eq(p->ka[0].key, &cfg->admin)) return ERR_NOT_ADMIN;
  const uint8_t *data = p->data + 1;
  uint64_t len = p->data_len - 1;
  if (tag == IX_SET_TIERS) {
    Tier tiers[MAX_TIERS];
    uint8_t count = 0;
    rc = parse_tiers(data, len, tiers, &count);
    if (rc) return rc;
    sol_memcpy_(cfg->tiers, tiers, sizeof(tiers));
    cfg->tier_count = count;
  } else if (tag == IX_SET_PAUSED) {
    if (len != 1 || data[0] > 1) return ERR_INVALID_INSTRUCTION;
    cfg->paused = data[0];
  } else if (tag == IX_SET_LOCKUP) {
    if (len != 16) return ERR_INVALID_INSTRUCTION;
    uint64_t min_lock = evch_read_u64_le(data), max_lock = evch_read_u64_le(data + 8);
    if (min_lock > max_lock || max_lock > INT64_MAX_U) return ERR_INVALID_LOCKUP;
    cfg->min_lock_s = min_lock;
    cfg->max_lock_s = max_lock;
  } else if (tag == IX_SET_ADMIN) {
    if (len != 0) return ERR_INVALID_INSTRUCTION;
    if (p->ka_num < 3) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
    if (!p->ka[2].is_signer) return ERR_NOT_ADMIN;
    sol_memcpy_(&cfg->admin, p->ka[2].key, sizeof(SolPubkey));
  } else {
    return ERR_INVALID_INSTRUCTION;
  }
  return SUCCESS;
}

/* ---- Stake ------------------------------------------------------------------------------- */
/* Accounts: 0 owner (signer, w: pays for the position), 1 config (w), 2 position PDA (w),
 * 3 owner's token account (w), 4 vault token account (w), 5 mint, 6 token program,
 * 7 system program. Data: amount u64, lock_s u64, nonce u64. */
static uint64_t process_stake(SolParameters *p) {
  if (p->ka_num < 8) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  if (p->data_len != 25) return ERR_INVALID_INSTRUCTION;
  SolAccountInfo *owner = &p->ka[0], *pos_ai = &p->ka[2], *source = &p->ka[3];
  SolAccountInfo *vault = &p->ka[4], *mint = &p->ka[5];
  Config *cfg;
  uint64_t rc = load_config(p, &p->ka[1], &cfg);
  if (rc) return rc;
  if (!owner->is_signer) return ERR_NOT_OWNER;
  if (cfg->paused) return ERR_PAUSED;
  uint64_t amount = evch_read_u64_le(p->data + 1), lock_s = evch_read_u64_le(p->data + 9);
  if (amount == 0) return ERR_ZERO_AMOUNT;
  if (lock_s < cfg->min_lock_s || lock_s > cfg->max_lock_s) return ERR_INVALID_LOCKUP;
  rc = check_token_accounts(cfg, vault, mint, &p->ka[6]);
  if (rc) return rc;
  if (!owner->is_writable || !pos_ai->is_writable || !evch_pubkey_eq(p->ka[7].key, &SYSTEM_ID))
    return ERR_INVALID_ACCOUNT;
  if (evch_pubkey_eq(pos_ai->owner, p->program_id)) return ERR_ALREADY_INITIALIZED;

  /* lock_s <= max_lock_s <= INT64_MAX (SetLockup checks it), so the subtraction is safe */
  int64_t start = now_unix();
  if (start > (int64_t)(INT64_MAX_U - lock_s)) return ERR_ARITHMETIC_OVERFLOW;
  int64_t end = start + (int64_t)lock_s;

  /* the position's address: ["position", owner, nonce] */
  uint8_t bump = 0;
  SolPubkey pda;
  SolSignerSeed seeds[4] = {{SEED_POSITION, SEED_LEN(SEED_POSITION)},
                            {owner->key->x, sizeof(SolPubkey)},
                            {p->data + 17, 8},
                            {&bump, 1}};
  if (sol_try_find_program_address(seeds, 3, p->program_id, &pda, &bump) ||
      !evch_pubkey_eq(&pda, pos_ai->key))
    return ERR_INVALID_ACCOUNT;

  /* owner -> vault, signed by the owner; count what arrived */
  uint64_t before = token_amount(vault);
  SolAccountMeta metas[4] = {{source->key, true, false},
                             {mint->key, false, false},
                             {vault->key, true, false},
                             {owner->key, false, true}};
  rc = transfer_checked(p, metas, cfg, amount, NULL);
  if (rc) return rc;
  uint64_t after = token_amount(vault);
  if (after < before) return ERR_ARITHMETIC_OVERFLOW;
  uint64_t received = after - before;
  if (received == 0) return ERR_ZERO_AMOUNT;
  uint64_t total;
  if (!evch_checked_add_u64(cfg->total_staked, received, &total)) return ERR_ARITHMETIC_OVERFLOW;

  SolSignerSeeds signer = {seeds, 4};
  rc = create_pda_account(p, owner, pos_ai, POSITION_LEN, &signer);
  if (rc) return rc;
  if (pos_ai->data_len < POSITION_LEN) return ERR_INVALID_ACCOUNT;
  Position *pos = (Position *)pos_ai->data;
  sol_memset_(pos, 0, POSITION_LEN);
  pos->kind = KIND_POSITION;
  pos->version = LAYOUT_VERSION;
  pos->bump = bump;
  pos->tier = best_tier(cfg, received, lock_s);
  pos->discount_bps = pos->tier ? cfg->tiers[pos->tier - 1].discount_bps : 0;
  sol_memcpy_(&pos->owner, owner->key, sizeof(SolPubkey));
  pos->nonce = evch_read_u64_le(p->data + 17);
  pos->amount = received;
  pos->deposited = amount;
  pos->lock_start = start;
  pos->lock_end = end;

  cfg->total_staked = total;
  cfg->open_positions += 1;
  return SUCCESS;
}

/* ---- Unstake ----------------------------------------------------------------------------- */
/* Accounts: 0 owner (signer, w: gets the position's lamports), 1 config (w), 2 position (w),
 * 3 destination token account (w), 4 vault token account (w), 5 mint, 6 vault authority PDA,
 * 7 token program. No data. */
static uint64_t process_unstake(SolParameters *p) {
  if (p->ka_num < 8) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  if (p->data_len != 1) return ERR_INVALID_INSTRUCTION;
  SolAccountInfo *owner = &p->ka[0], *pos_ai = &p->ka[2], *dest = &p->ka[3];
  SolAccountInfo *vault = &p->ka[4], *mint = &p->ka[5], *vault_auth = &p->ka[6];
  Config *cfg;
  uint64_t rc = load_config(p, &p->ka[1], &cfg);
  if (rc) return rc;
  if (cfg->paused) return ERR_PAUSED;
  if (!evch_pubkey_eq(pos_ai->owner, p->program_id) || pos_ai->data_len < POSITION_LEN ||
      !pos_ai->is_writable)
    return ERR_INVALID_ACCOUNT;
  Position *pos = (Position *)pos_ai->data;
  if (pos->kind != KIND_POSITION) return ERR_INVALID_ACCOUNT;
  if (!owner->is_signer || !evch_pubkey_eq(&pos->owner, owner->key)) return ERR_NOT_OWNER;
  rc = check_token_accounts(cfg, vault, mint, &p->ka[7]);
  if (rc) return rc;
  /* paying out into the vault itself would leave the tokens there without a position */
  if (!owner->is_writable || !evch_pubkey_eq(vault_auth->key, &cfg->vault_authority) ||
      evch_pubkey_eq(dest->key, vault->key))
    return ERR_INVALID_ACCOUNT;
  if (now_unix() < pos->lock_end) return ERR_EARLY_UNSTAKE;

  uint64_t amount = pos->amount, total, lamports;
  if (!evch_checked_sub_u64(cfg->total_staked, amount, &total) || cfg->open_positions == 0)
    return ERR_ARITHMETIC_OVERFLOW;

  /* vault -> destination, signed by the vault PDA */
  SolSignerSeed seeds[2] = {{SEED_VAULT, SEED_LEN(SEED_VAULT)}, {&cfg->vault_bump, 1}};
  SolSignerSeeds signer = {seeds, 2};
  SolAccountMeta metas[4] = {{vault->key, true, false},
                             {mint->key, false, false},
                             {dest->key, true, false},
                             {vault_auth->key, false, true}};
  rc = transfer_checked(p, metas, cfg, amount, &signer);
  if (rc) return rc;
  if (!evch_checked_add_u64(*owner->lamports, *pos_ai->lamports, &lamports))
    return ERR_ARITHMETIC_OVERFLOW;

  cfg->total_staked = total;
  cfg->open_positions -= 1;
  /* close the position: rent back to the owner, data zeroed and dropped (the serialized length
   * just before the data is what the runtime reads back, as a realloc writes it), the account
   * handed back to the System program */
  *owner->lamports = lamports;
  *pos_ai->lamports = 0;
  sol_memset_(pos_ai->data, 0, pos_ai->data_len);
  *(uint64_t *)(pos_ai->data - sizeof(uint64_t)) = 0;
  pos_ai->data_len = 0;
  sol_memset_(pos_ai->owner, 0, sizeof(SolPubkey));
  return SUCCESS;
}

/* ---- entrypoint -------------------------------------------------------------------------- */
#define MAX_ACCOUNTS 9

uint64_t entrypoint(const uint8_t *input) {
  SolAccountInfo ka[MAX_ACCOUNTS];
  SolParameters p = {.ka = ka};
  evch_deserialize(input, &p, MAX_ACCOUNTS);
  if (p.data_len < 1) return ERR_INVALID_INSTRUCTION;
  switch (p.data[0]) {
    case IX_INITIALIZE:
      return process_initialize(&p);
    case IX_STAKE:
      return process_stake(&p);
    case IX_UNSTAKE:
      return process_unstake(&p);
    case IX_SET_TIERS:
    case IX_SET_PAUSED:
    case IX_SET_LOCKUP:
    case IX_SET_ADMIN:
      return process_admin(&p, p.data[0]);
    default:
      return ERR_INVALID_INSTRUCTION;
  }
}
