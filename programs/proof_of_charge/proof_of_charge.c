/* proof_of_charge.c - the EVCH Proof-of-Charge program (C, built to SBPFv0 by programs/sbpf).
 *
 * The program owns the EVCH mint authority, a PDA with seeds ["mint_authority"]: the only way to
 * mint EVCH is RecordCharge, which a registered attestor signs for one charging session. The
 * amounts follow from the session's energy and the on-chain config, never from the caller, and a
 * session can be recorded once (its account is the PDA ["session", session_id]).
 *
 * Amounts (raw units; decimals 6, so 1 raw = 1 mWh at the default rate of 1,000,000 raw/kWh),
 * every product and sum checked for overflow, every division rounding down:
 *   base     = energy_wh * mint_rate_raw_per_kwh / 1000
 *   driver   = base * driver_bps / 10000
 *   operator = base * operator_bps / 10000
 *   reward   = base * (off_peak_multiplier_bps - 10000) / 10000     if reward class bit 1
 *            + base * (renewable_multiplier_bps - 10000) / 10000    if reward class bit 2
 * The driver's token account receives driver + reward, the operator's receives operator. A session
 * whose reward would take the cumulative rewards past rewards_cap_raw is refused (OverCap) as a
 * whole: nothing is recorded, and the attestor may record it again without a reward class.
 *
 * Checks of RecordCharge, in order: config (owner, kind, writable), not paused, attestor signed
 * and registered, data (reward bits, stop >= start), accounts (payer signs, mint = config's and
 * Token-2022's, mint authority = config's PDA, token program, system program, token accounts of
 * the mint), the session PDA (canonical bump, so one address per session id), DuplicateSession
 * when it is already ours, then amounts and counters, all before anything is written. The session
 * account is created rent-exempt from the Rent sysvar; an address that someone funded beforehand
 * is topped up, allocated and assigned instead, so a gift of lamports cannot block a session.
 *
 * Initialize can be sent by anyone once: create the mint (authority = the PDA) and initialise in
 * one transaction so that nobody can take the config in between.
 *
 * Instructions (data: first byte the tag, then little-endian fields, no padding)
 *   0 Initialize    rates (28 bytes, below)
 *        accounts: 0 admin (signer), 1 payer (signer, writable), 2 config PDA (writable),
 *                  3 mint (Token-2022, mint authority already the ["mint_authority"] PDA),
 *                  4 system program
 *   1 AddAttestor   attestor pubkey [32]             accounts: 0 admin (signer), 1 config (w)
 *   2 RemoveAttestor attestor pubkey [32]            accounts: 0 admin (signer), 1 config (w)
 *   3 SetPaused     paused u8 (0 or 1)               accounts: 0 admin (signer), 1 config (w)
 *   4 UpdateRates   rates (28 bytes)                 accounts: 0 admin (signer), 1 config (w)
 *   5 RecordCharge  session_id [32] (sha256 of the CSMS session id), charger_id [32] (sha256 of
 *                   the charger id), energy_wh u64, start_unix i64, stop_unix i64,
 *                   meter_digest [32], reward_class u8 (bit 1 off-peak, bit 2 renewable)
 *        accounts: 0 attestor (signer), 1 config (w), 2 session PDA (w), 3 payer (signer, w),
 *                  4 mint (w), 5 mint authority PDA, 6 driver token account (w),
 *                  7 operator token account (w), 8 Token-2022 program, 9 system program
 *        return data: driver_raw u64, operator_raw u64, reward_raw u64 (24 bytes)
 *   6 SetAdmin      (no data)   accounts: 0 admin (signer), 1 config (w), 2 new admin (signer)
 *   rates: mint_rate_raw_per_kwh u64, driver_bps u16, operator_bps u16,
 *          off_peak_multiplier_bps u32, renewable_multiplier_bps u32, rewards_cap_raw u64
 *          (rate > 0, driver_bps + operator_bps <= 10000, multipliers >= 10000)
 *
 * Accounts (layouts mirrored in programs/proof_of_charge/state.py), little-endian:
 *   Config, PDA ["config"], 512 bytes: see struct Config (offsets in its comments).
 *   Session, PDA ["session", session_id], 264 bytes: see struct Session.
 *
 * Errors: custom program errors from 0x1001, enum PocError (mirrored in
 * programs/proof_of_charge/errors.py); a failed CPI passes Token-2022's or System's error through.
 */
#include "evch_sdk.h"

/* ---- constants -------------------------------------------------------------------------- */

#define MAX_ATTESTORS 8
#define BPS_ONE 10000ULL
#define WH_PER_KWH 1000ULL
#define ACCOUNT_STORAGE_OVERHEAD 128ULL /* bytes the runtime adds to an account for rent */
#define MINT_BASE_LEN 82ULL             /* SPL mint: COption authority, supply, decimals, ... */
#define TOKEN_ACCOUNT_BASE_LEN 165ULL   /* SPL token account: mint, owner, amount, ... */
#define REWARD_OFF_PEAK 1
#define REWARD_RENEWABLE 2

enum Kind { KIND_CONFIG = 1, KIND_SESSION = 2 };
#define LAYOUT_VERSION 1

enum Tag {
  TAG_INITIALIZE = 0,
  TAG_ADD_ATTESTOR = 1,
  TAG_REMOVE_ATTESTOR = 2,
  TAG_SET_PAUSED = 3,
  TAG_UPDATE_RATES = 4,
  TAG_RECORD_CHARGE = 5,
  TAG_SET_ADMIN = 6,
};

/* Custom program errors, from 0x1001 so that they cannot be mistaken for the small codes of the
 * Token-2022 and System programs, which a failed CPI passes through unchanged. */
enum PocError {
  POC_NOT_ADMIN = 0x1001,
  POC_WRONG_ATTESTOR = 0x1002,
  POC_DUPLICATE_SESSION = 0x1003,
  POC_PAUSED = 0x1004,
  POC_OVER_CAP = 0x1005,
  POC_ARITHMETIC_OVERFLOW = 0x1006,
  POC_INVALID_INSTRUCTION = 0x1007,
  POC_INVALID_ACCOUNT = 0x1008,
  POC_ATTESTOR_LIST_FULL = 0x1009,
  POC_STOP_BEFORE_START = 0x100A,
  POC_ALREADY_INITIALIZED = 0x100B,
  POC_ATTESTOR_ALREADY_REGISTERED = 0x100C,
};

/* RecordCharge account indices */
enum {
  RC_ATTESTOR, RC_CONFIG, RC_SESSION, RC_PAYER, RC_MINT, RC_MINT_AUTHORITY,
  RC_DRIVER_TOKEN, RC_OPERATOR_TOKEN, RC_TOKEN_PROGRAM, RC_SYSTEM_PROGRAM, RC_ACCOUNTS
};

static const uint8_t SEED_CONFIG[] = {'c', 'o', 'n', 'f', 'i', 'g'};
static const uint8_t SEED_SESSION[] = {'s', 'e', 's', 's', 'i', 'o', 'n'};
static const uint8_t SEED_MINT_AUTHORITY[] = {'m', 'i', 'n', 't', '_', 'a', 'u', 't', 'h',
                                              'o', 'r', 'i', 't', 'y'};

/* TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb */
static const SolPubkey TOKEN_2022_PROGRAM_ID = {{
    0x06, 0xdd, 0xf6, 0xe1, 0xee, 0x75, 0x8f, 0xde, 0x18, 0x42, 0x5d, 0xbc,
    0xe4, 0x6c, 0xcd, 0xda, 0xb6, 0x1a, 0xfc, 0x4d, 0x83, 0xb9, 0x0d, 0x27,
    0xfe, 0xbd, 0xf9, 0x28, 0xd8, 0xa1, 0x8b, 0xfc}};
/* 11111111111111111111111111111111 */
static const SolPubkey SYSTEM_PROGRAM_ID = {{0}};

/* ---- account layouts -------------------------------------------------------------------- */

typedef struct {
  uint8_t kind;                      /*   0  KIND_CONFIG */
  uint8_t version;                   /*   1  LAYOUT_VERSION */
  uint8_t paused;                    /*   2  0 or 1 */
  uint8_t config_bump;               /*   3 */
  uint8_t mint_authority_bump;       /*   4 */
  uint8_t attestor_count;            /*   5  0..8 */
  uint8_t reserved0[2];              /*   6 */
  SolPubkey admin;                   /*   8 */
  SolPubkey mint;                    /*  40 */
  SolPubkey mint_authority;          /*  72  the ["mint_authority"] PDA */
  SolPubkey attestors[MAX_ATTESTORS]; /* 104  the first attestor_count are registered */
  uint64_t mint_rate_raw_per_kwh;    /* 360 */
  uint16_t driver_bps;               /* 368 */
  uint16_t operator_bps;             /* 370 */
  uint32_t off_peak_multiplier_bps;  /* 372 */
  uint32_t renewable_multiplier_bps; /* 376 */
  uint32_t reserved1;                /* 380 */
  uint64_t rewards_cap_raw;          /* 384 */
  uint64_t verified_wh;              /* 392  counters: sum over recorded sessions */
  uint64_t minted_driver_raw;        /* 400  driver shares (rewards not included) */
  uint64_t minted_operator_raw;      /* 408 */
  uint64_t rewards_minted_raw;       /* 416 */
  uint64_t sessions_recorded;        /* 424 */
  uint8_t reserved2[80];             /* 432  zero, for later fields */
} Config;                            /* 512 */

typedef struct {
  uint8_t kind;              /*   0  KIND_SESSION */
  uint8_t version;           /*   1  LAYOUT_VERSION */
  uint8_t reward_class;      /*   2 */
  uint8_t bump;              /*   3 */
  uint8_t reserved0[4];      /*   4 */
  uint8_t session_id[32];    /*   8 */
  uint8_t charger_id[32];    /*  40 */
  uint64_t energy_wh;        /*  72 */
  int64_t start_unix;        /*  80 */
  int64_t stop_unix;         /*  88 */
  uint8_t meter_digest[32];  /*  96 */
  uint64_t driver_raw;       /* 128  driver share (reward not included) */
  uint64_t operator_raw;     /* 136 */
  uint64_t reward_raw;       /* 144 */
  SolPubkey attestor;        /* 152 */
  uint64_t recorded_slot;    /* 184 */
  int64_t recorded_unix;     /* 192 */
  SolPubkey driver_token;    /* 200 */
  SolPubkey operator_token;  /* 232 */
} Session;                   /* 264 */

_Static_assert(sizeof(Config) == 512, "Config layout");
_Static_assert(__builtin_offsetof(Config, mint_rate_raw_per_kwh) == 360, "Config layout");
_Static_assert(__builtin_offsetof(Config, sessions_recorded) == 424, "Config layout");
_Static_assert(sizeof(Session) == 264, "Session layout");
_Static_assert(__builtin_offsetof(Session, recorded_unix) == 192, "Session layout");

/* ---- instruction data ------------------------------------------------------------------- */

typedef struct __attribute__((packed)) {
  uint64_t mint_rate_raw_per_kwh;
  uint16_t driver_bps;
  uint16_t operator_bps;
  uint32_t off_peak_multiplier_bps;
  uint32_t renewable_multiplier_bps;
  uint64_t rewards_cap_raw;
} RatesArgs;

typedef struct __attribute__((packed)) {
  uint8_t session_id[32];
  uint8_t charger_id[32];
  uint64_t energy_wh;
  int64_t start_unix;
  int64_t stop_unix;
  uint8_t meter_digest[32];
  uint8_t reward_class;
} RecordArgs;

_Static_assert(sizeof(RatesArgs) == 28, "RatesArgs layout");
_Static_assert(sizeof(RecordArgs) == 121, "RecordArgs layout");

typedef struct { uint64_t driver; uint64_t operator_; uint64_t reward; } Amounts;

/* ---- helpers ---------------------------------------------------------------------------- */

/* x * f for a non-negative IEEE-754 double f given as its bits, truncated like Rust's `as u64`
 * (exact whenever the result fits); false when it cannot be represented. */
static bool mul_by_f64_bits(uint64_t x, uint64_t bits, uint64_t *out) {
  uint64_t exponent = (bits >> 52) & 0x7FF;
  uint64_t mantissa = bits & ((1ULL << 52) - 1);
  if (bits >> 63 || exponent == 0x7FF) return false;
  if (exponent == 0) { /* zero or subnormal: below 2^-1022 */
    *out = 0;
    return true;
  }
  mantissa |= 1ULL << 52;
  uint64_t up = 0, down = 0; /* value = mantissa * 2^up / 2^down */
  if (exponent >= 1075) up = exponent - 1075;
  else down = 1075 - exponent;
  while (down > 0 && (mantissa & 1) == 0) {
    mantissa >>= 1;
    down--;
  }
  uint64_t product;
  if (!evch_checked_mul_u64(x, mantissa, &product)) return false;
  if (product == 0) {
    *out = 0;
    return true;
  }
  if (up >= 64 || (up > 0 && product >> (64 - up) != 0)) return false;
  product <<= up;
  *out = down >= 64 ? 0 : product >> down;
  return true;
}

/* the rent-exempt minimum balance of an account of `space` bytes, from the Rent sysvar
 * (the runtime's ((128 + space) * lamports_per_byte_year) as f64 * exemption_threshold) */
static bool rent_exempt_minimum(uint64_t space, uint64_t *out) {
  SolRent rent;
  if (sol_get_rent_sysvar(&rent) != SUCCESS) return false;
  uint64_t byte_years;
  if (!evch_checked_mul_u64(ACCOUNT_STORAGE_OVERHEAD + space, rent.lamports_per_byte_year,
                            &byte_years))
    return false;
  return mul_by_f64_bits(byte_years, evch_read_u64_le(rent.exemption_threshold), out);
}

/* Create `target` (a PDA of this program, signed by `signer`) with `space` zeroed bytes, owned by
 * this program and rent exempt, paid by `payer`. An address someone already sent lamports to is
 * topped up, allocated and assigned instead, so a gift of lamports cannot block it. */
static uint64_t create_pda_account(const SolParameters *p, const SolAccountInfo *payer,
                                   const SolAccountInfo *target, uint64_t space,
                                   const SolSignerSeeds *signer) {
  uint64_t lamports;
  if (!rent_exempt_minimum(space, &lamports)) return POC_ARITHMETIC_OVERFLOW;
  SolPubkey *system = (SolPubkey *)&SYSTEM_PROGRAM_ID;
  SolAccountMeta both[2] = {{.pubkey = payer->key, .is_writable = true, .is_signer = true},
                            {.pubkey = target->key, .is_writable = true, .is_signer = true}};
  if (*target->lamports == 0) {
    struct __attribute__((packed)) {
      uint32_t tag;
      uint64_t lamports;
      uint64_t space;
      SolPubkey owner;
    } create = {0, lamports, space, *p->program_id};
    SolInstruction ix = {system, both, 2, (uint8_t *)&create, sizeof(create)};
    return sol_invoke_signed_c(&ix, p->ka, p->ka_num, signer, 1);
  }
  if (!evch_pubkey_eq(target->owner, &SYSTEM_PROGRAM_ID) || target->data_len != 0)
    return POC_INVALID_ACCOUNT;
  uint64_t rc;
  if (*target->lamports < lamports) {
    struct __attribute__((packed)) { uint32_t tag; uint64_t lamports; } transfer = {
        2, lamports - *target->lamports};
    SolAccountMeta metas[2] = {{.pubkey = payer->key, .is_writable = true, .is_signer = true},
                               {.pubkey = target->key, .is_writable = true, .is_signer = false}};
    SolInstruction ix = {system, metas, 2, (uint8_t *)&transfer, sizeof(transfer)};
    rc = sol_invoke_signed_c(&ix, p->ka, p->ka_num, signer, 0);
    if (rc != SUCCESS) return rc;
  }
  struct __attribute__((packed)) { uint32_t tag; uint64_t space; } allocate = {8, space};
  SolInstruction alloc_ix = {system, &both[1], 1, (uint8_t *)&allocate, sizeof(allocate)};
  rc = sol_invoke_signed_c(&alloc_ix, p->ka, p->ka_num, signer, 1);
  if (rc != SUCCESS) return rc;
  struct __attribute__((packed)) { uint32_t tag; SolPubkey owner; } assign = {1, *p->program_id};
  SolInstruction assign_ix = {system, &both[1], 1, (uint8_t *)&assign, sizeof(assign)};
  return sol_invoke_signed_c(&assign_ix, p->ka, p->ka_num, signer, 1);
}

/* the config account, or NULL when `account` is not this program's writable config */
static Config *load_config(const SolParameters *p, const SolAccountInfo *account) {
  if (!evch_pubkey_eq(account->owner, p->program_id) || !account->is_writable ||
      account->data_len < sizeof(Config))
    return NULL;
  Config *config = (Config *)account->data;
  if (config->kind != KIND_CONFIG || config->version != LAYOUT_VERSION) return NULL;
  return config;
}

/* admin instructions: accounts 0 admin (signer), 1 config (writable) */
static uint64_t load_config_as_admin(const SolParameters *p, Config **out) {
  if (p->ka_num < 2) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  Config *config = load_config(p, &p->ka[1]);
  if (config == NULL) return POC_INVALID_ACCOUNT;
  if (!p->ka[0].is_signer || !evch_pubkey_eq(p->ka[0].key, &config->admin)) return POC_NOT_ADMIN;
  *out = config;
  return SUCCESS;
}

static uint64_t check_rates(const RatesArgs *rates) {
  if (rates->mint_rate_raw_per_kwh == 0 ||
      (uint64_t)rates->driver_bps + rates->operator_bps > BPS_ONE ||
      rates->off_peak_multiplier_bps < BPS_ONE || rates->renewable_multiplier_bps < BPS_ONE)
    return POC_INVALID_INSTRUCTION;
  return SUCCESS;
}

static void store_rates(Config *config, const RatesArgs *rates) {
  config->mint_rate_raw_per_kwh = rates->mint_rate_raw_per_kwh;
  config->driver_bps = rates->driver_bps;
  config->operator_bps = rates->operator_bps;
  config->off_peak_multiplier_bps = rates->off_peak_multiplier_bps;
  config->renewable_multiplier_bps = rates->renewable_multiplier_bps;
  config->rewards_cap_raw = rates->rewards_cap_raw;
}

/* index of `key` among the registered attestors, or MAX_ATTESTORS */
static uint64_t find_attestor(const Config *config, const SolPubkey *key) {
  uint64_t count = config->attestor_count < MAX_ATTESTORS ? config->attestor_count : MAX_ATTESTORS;
  for (uint64_t i = 0; i < count; i++)
    if (evch_pubkey_eq(&config->attestors[i], key)) return i;
  return MAX_ATTESTORS;
}

/* base * (multiplier - 1) added to *reward, multiplier in basis points */
static bool add_reward(uint64_t base, uint32_t multiplier_bps, uint64_t *reward) {
  uint64_t extra;
  if (multiplier_bps <= BPS_ONE) return true;
  if (!evch_checked_mul_u64(base, multiplier_bps - BPS_ONE, &extra)) return false;
  return evch_checked_add_u64(*reward, extra / BPS_ONE, reward);
}

static uint64_t compute_amounts(const Config *config, uint64_t energy_wh, uint8_t reward_class,
                                Amounts *out) {
  uint64_t base, product;
  if (!evch_checked_mul_u64(energy_wh, config->mint_rate_raw_per_kwh, &product))
    return POC_ARITHMETIC_OVERFLOW;
  base = product / WH_PER_KWH;
  if (!evch_checked_mul_u64(base, config->driver_bps, &product)) return POC_ARITHMETIC_OVERFLOW;
  out->driver = product / BPS_ONE;
  if (!evch_checked_mul_u64(base, config->operator_bps, &product)) return POC_ARITHMETIC_OVERFLOW;
  out->operator_ = product / BPS_ONE;
  out->reward = 0;
  if ((reward_class & REWARD_OFF_PEAK) &&
      !add_reward(base, config->off_peak_multiplier_bps, &out->reward))
    return POC_ARITHMETIC_OVERFLOW;
  if ((reward_class & REWARD_RENEWABLE) &&
      !add_reward(base, config->renewable_multiplier_bps, &out->reward))
    return POC_ARITHMETIC_OVERFLOW;
  return SUCCESS;
}

/* a Token-2022 token account of `mint`, writable */
static bool is_token_account_of(const SolAccountInfo *account, const SolPubkey *mint) {
  return account->is_writable && evch_pubkey_eq(account->owner, &TOKEN_2022_PROGRAM_ID) &&
         account->data_len >= TOKEN_ACCOUNT_BASE_LEN &&
         evch_pubkey_eq((const SolPubkey *)account->data, mint);
}

/* Token-2022 MintTo (7) of `amount` to `destination`, signed by the mint authority PDA */
static uint64_t mint_to(const SolParameters *p, const SolAccountInfo *destination, uint64_t amount,
                        uint8_t bump) {
  if (amount == 0) return SUCCESS;
  const SolAccountInfo *ka = p->ka;
  struct __attribute__((packed)) { uint8_t tag; uint64_t amount; } data = {7, amount};
  SolAccountMeta metas[3] = {
      {.pubkey = ka[RC_MINT].key, .is_writable = true, .is_signer = false},
      {.pubkey = destination->key, .is_writable = true, .is_signer = false},
      {.pubkey = ka[RC_MINT_AUTHORITY].key, .is_writable = false, .is_signer = true}};
  SolInstruction ix = {ka[RC_TOKEN_PROGRAM].key, metas, 3, (uint8_t *)&data, sizeof(data)};
  SolSignerSeed seeds[2] = {{SEED_MINT_AUTHORITY, sizeof(SEED_MINT_AUTHORITY)}, {&bump, 1}};
  SolSignerSeeds signer = {seeds, 2};
  return sol_invoke_signed_c(&ix, p->ka, p->ka_num, &signer, 1);
}

/* ---- instructions ----------------------------------------------------------------------- */

static uint64_t process_initialize(const SolParameters *p) {
  if (p->ka_num < 5) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  if (p->data_len != 1 + sizeof(RatesArgs)) return POC_INVALID_INSTRUCTION;
  const RatesArgs *rates = (const RatesArgs *)(p->data + 1);
  uint64_t rc = check_rates(rates);
  if (rc != SUCCESS) return rc;
  const SolAccountInfo *admin = &p->ka[0], *payer = &p->ka[1], *config_account = &p->ka[2];
  const SolAccountInfo *mint = &p->ka[3], *system = &p->ka[4];
  if (!admin->is_signer) return POC_NOT_ADMIN;
  if (!payer->is_signer || !payer->is_writable || !config_account->is_writable ||
      !evch_pubkey_eq(system->key, &SYSTEM_PROGRAM_ID))
    return POC_INVALID_ACCOUNT;

  SolSignerSeed seeds[2] = {{SEED_CONFIG, sizeof(SEED_CONFIG)}, {NULL, 1}};
  SolPubkey config_key, authority_key;
  uint8_t config_bump, authority_bump;
  if (sol_try_find_program_address(seeds, 1, p->program_id, &config_key, &config_bump) != SUCCESS ||
      !evch_pubkey_eq(&config_key, config_account->key))
    return POC_INVALID_ACCOUNT;
  if (evch_pubkey_eq(config_account->owner, p->program_id)) return POC_ALREADY_INITIALIZED;

  /* the mint: an initialised Token-2022 mint whose mint authority is already our PDA */
  SolSignerSeed authority_seeds[1] = {{SEED_MINT_AUTHORITY, sizeof(SEED_MINT_AUTHORITY)}};
  if (sol_try_find_program_address(authority_seeds, 1, p->program_id, &authority_key,
                                   &authority_bump) != SUCCESS)
    return POC_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(mint->owner, &TOKEN_2022_PROGRAM_ID) || mint->data_len < MINT_BASE_LEN ||
      mint->data[45] != 1 || *(const uint32_t *)mint->data != 1 ||
      !evch_pubkey_eq((const SolPubkey *)(mint->data + 4), &authority_key))
    return POC_INVALID_ACCOUNT;

  seeds[1].addr = &config_bump;
  SolSignerSeeds signer = {seeds, 2};
  rc = create_pda_account(p, payer, config_account, sizeof(Config), &signer);
  if (rc != SUCCESS) return rc;

  Config *config = (Config *)config_account->data; /* zeroed by the system program */
  config->kind = KIND_CONFIG;
  config->version = LAYOUT_VERSION;
  config->config_bump = config_bump;
  config->mint_authority_bump = authority_bump;
  config->admin = *admin->key;
  config->mint = *mint->key;
  config->mint_authority = authority_key;
  store_rates(config, rates);
  evch_log("poc: initialized");
  return SUCCESS;
}

static uint64_t process_attestor(const SolParameters *p, bool add) {
  Config *config;
  uint64_t rc = load_config_as_admin(p, &config);
  if (rc != SUCCESS) return rc;
  if (p->data_len != 1 + sizeof(SolPubkey)) return POC_INVALID_INSTRUCTION;
  SolPubkey key;
  sol_memcpy_(&key, p->data + 1, sizeof(key));
  uint64_t index = find_attestor(config, &key);
  uint64_t count = config->attestor_count;
  if (add) {
    if (index != MAX_ATTESTORS) return POC_ATTESTOR_ALREADY_REGISTERED;
    if (count >= MAX_ATTESTORS) return POC_ATTESTOR_LIST_FULL;
    config->attestors[count] = key;
    config->attestor_count = (uint8_t)(count + 1);
    return SUCCESS;
  }
  if (index == MAX_ATTESTORS) return POC_WRONG_ATTESTOR;
  config->attestors[index] = config->attestors[count - 1]; /* keep the list dense */
  sol_memset_(&config->attestors[count - 1], 0, sizeof(SolPubkey));
  config->attestor_count = (uint8_t)(count - 1);
  return SUCCESS;
}

static uint64_t process_set_paused(const SolParameters *p) {
  Config *config;
  uint64_t rc = load_config_as_admin(p, &config);
  if (rc != SUCCESS) return rc;
  if (p->data_len != 2 || p->data[1] > 1) return POC_INVALID_INSTRUCTION;
  config->paused = p->data[1];
  return SUCCESS;
}

static uint64_t process_update_rates(const SolParameters *p) {
  Config *config;
  uint64_t rc = load_config_as_admin(p, &config);
  if (rc != SUCCESS) return rc;
  if (p->data_len != 1 + sizeof(RatesArgs)) return POC_INVALID_INSTRUCTION;
  const RatesArgs *rates = (const RatesArgs *)(p->data + 1);
  rc = check_rates(rates);
  if (rc != SUCCESS) return rc;
  if (rates->rewards_cap_raw < config->rewards_minted_raw) return POC_OVER_CAP;
  store_rates(config, rates);
  return SUCCESS;
}

static uint64_t process_set_admin(const SolParameters *p) {
  Config *config;
  uint64_t rc = load_config_as_admin(p, &config);
  if (rc != SUCCESS) return rc;
  if (p->ka_num < 3) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  if (p->data_len != 1) return POC_INVALID_INSTRUCTION;
  if (!p->ka[2].is_signer) return POC_NOT_ADMIN; /* the new admin proves it holds the key */
  config->admin = *p->ka[2].key;
  return SUCCESS;
}

/* the accounts of RecordCharge other than the config, the attestor and the session */
static uint64_t check_record_accounts(const SolParameters *p, const Config *config) {
  const SolAccountInfo *ka = p->ka;
  const SolAccountInfo *payer = &ka[RC_PAYER], *mint = &ka[RC_MINT];
  if (!payer->is_signer || !payer->is_writable || !ka[RC_SESSION].is_writable)
    return POC_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(mint->key, &config->mint) || !mint->is_writable ||
      !evch_pubkey_eq(mint->owner, &TOKEN_2022_PROGRAM_ID))
    return POC_INVALID_ACCOUNT;
  if (!evch_pubkey_eq(ka[RC_MINT_AUTHORITY].key, &config->mint_authority) ||
      !evch_pubkey_eq(ka[RC_TOKEN_PROGRAM].key, &TOKEN_2022_PROGRAM_ID) ||
      !evch_pubkey_eq(ka[RC_SYSTEM_PROGRAM].key, &SYSTEM_PROGRAM_ID))
    return POC_INVALID_ACCOUNT;
  if (!is_token_account_of(&ka[RC_DRIVER_TOKEN], &config->mint) ||
      !is_token_account_of(&ka[RC_OPERATOR_TOKEN], &config->mint))
    return POC_INVALID_ACCOUNT;
  return SUCCESS;
}

static uint64_t process_record_charge(const SolParameters *p) {
  if (p->ka_num < RC_ACCOUNTS) return EVCH_ERROR_NOT_ENOUGH_ACCOUNT_KEYS;
  if (p->data_len != 1 + sizeof(RecordArgs)) return POC_INVALID_INSTRUCTION;
  const RecordArgs *args = (const RecordArgs *)(p->data + 1);
  const SolAccountInfo *ka = p->ka;
  Config *config = load_config(p, &ka[RC_CONFIG]);
  if (config == NULL) return POC_INVALID_ACCOUNT;
  if (config->paused) return POC_PAUSED;
  const SolAccountInfo *attestor = &ka[RC_ATTESTOR];
  if (!attestor->is_signer || find_attestor(config, attestor->key) == MAX_ATTESTORS)
    return POC_WRONG_ATTESTOR;
  uint8_t reward_class = args->reward_class;
  if (reward_class & ~(REWARD_OFF_PEAK | REWARD_RENEWABLE)) return POC_INVALID_INSTRUCTION;
  int64_t start_unix = args->start_unix, stop_unix = args->stop_unix;
  if (stop_unix < start_unix) return POC_STOP_BEFORE_START;
  uint64_t rc = check_record_accounts(p, config);
  if (rc != SUCCESS) return rc;

  /* the session PDA, with the canonical bump: one address per session id */
  const SolAccountInfo *session_account = &ka[RC_SESSION];
  uint8_t session_id[32];
  sol_memcpy_(session_id, args->session_id, sizeof(session_id));
  SolSignerSeed seeds[3] = {
      {SEED_SESSION, sizeof(SEED_SESSION)}, {session_id, sizeof(session_id)}, {NULL, 1}};
  SolPubkey session_key;
  uint8_t bump;
  if (sol_try_find_program_address(seeds, 2, p->program_id, &session_key, &bump) != SUCCESS ||
      !evch_pubkey_eq(&session_key, session_account->key))
    return POC_INVALID_ACCOUNT;
  if (evch_pubkey_eq(session_account->owner, p->program_id)) return POC_DUPLICATE_SESSION;

  /* amounts and the new counters, all checked before anything is written */
  uint64_t energy_wh = args->energy_wh;
  Amounts amounts;
  rc = compute_amounts(config, energy_wh, reward_class, &amounts);
  if (rc != SUCCESS) return rc;
  uint64_t verified_wh, minted_driver, minted_operator, rewards_minted, sessions, driver_total;
  if (!evch_checked_add_u64(config->verified_wh, energy_wh, &verified_wh) ||
      !evch_checked_add_u64(config->minted_driver_raw, amounts.driver, &minted_driver) ||
      !evch_checked_add_u64(config->minted_operator_raw, amounts.operator_, &minted_operator) ||
      !evch_checked_add_u64(config->rewards_minted_raw, amounts.reward, &rewards_minted) ||
      !evch_checked_add_u64(config->sessions_recorded, 1, &sessions) ||
      !evch_checked_add_u64(amounts.driver, amounts.reward, &driver_total))
    return POC_ARITHMETIC_OVERFLOW;
  if (rewards_minted > config->rewards_cap_raw) return POC_OVER_CAP;

  SolClock clock;
  if (sol_get_clock_sysvar(&clock) != SUCCESS) return POC_INVALID_ACCOUNT;

  seeds[2].addr = &bump;
  SolSignerSeeds signer = {seeds, 3};
  rc = create_pda_account(p, &ka[RC_PAYER], session_account, sizeof(Session), &signer);
  if (rc != SUCCESS) return rc;

  Session *session = (Session *)session_account->data; /* zeroed by the system program */
  session->kind = KIND_SESSION;
  session->version = LAYOUT_VERSION;
  session->reward_class = reward_class;
  session->bump = bump;
  sol_memcpy_(session->session_id, session_id, 32);
  sol_memcpy_(session->charger_id, args->charger_id, 32);
  session->energy_wh = energy_wh;
  session->start_unix = start_unix;
  session->stop_unix = stop_unix;
  sol_memcpy_(session->meter_digest, args->meter_digest, 32);
  session->driver_raw = amounts.driver;
  session->operator_raw = amounts.operator_;
  session->reward_raw = amounts.reward;
  session->attestor = *attestor->key;
  session->recorded_slot = clock.slot;
  session->recorded_unix = clock.unix_timestamp;
  session->driver_token = *ka[RC_DRIVER_TOKEN].key;
  session->operator_token = *ka[RC_OPERATOR_TOKEN].key;

  config->verified_wh = verified_wh;
  config->minted_driver_raw = minted_driver;
  config->minted_operator_raw = minted_operator;
  config->rewards_minted_raw = rewards_minted;
  config->sessions_recorded = sessions;

  uint8_t authority_bump = config->mint_authority_bump;
  rc = mint_to(p, &ka[RC_DRIVER_TOKEN], driver_total, authority_bump);
  if (rc != SUCCESS) return rc;
  rc = mint_to(p, &ka[RC_OPERATOR_TOKEN], amounts.operator_, authority_bump);
  if (rc != SUCCESS) return rc;

  evch_log("poc: charge recorded (wh, driver, operator, reward, sessions)");
  sol_log_64_(energy_wh, amounts.driver, amounts.operator_, amounts.reward, sessions);
  uint64_t result[3] = {amounts.driver, amounts.operator_, amounts.reward};
  sol_set_return_data((const uint8_t *)result, sizeof(result));
  return SUCCESS;
}

/* ---- entry point ------------------------------------------------------------------------ */

uint64_t entrypoint(const uint8_t *input) {
  SolAccountInfo ka[RC_ACCOUNTS];
  SolParameters params = {.ka = ka};
  evch_deserialize(input, &params, RC_ACCOUNTS);
  if (params.data_len == 0) return POC_INVALID_INSTRUCTION;
  switch (params.data[0]) {
    case TAG_INITIALIZE: return process_initialize(&params);
    case TAG_ADD_ATTESTOR: return process_attestor(&params, true);
    case TAG_REMOVE_ATTESTOR: return process_attestor(&params, false);
    case TAG_SET_PAUSED: return process_set_paused(&params);
    case TAG_UPDATE_RATES: return process_update_rates(&params);
    case TAG_RECORD_CHARGE: return process_record_charge(&params);
    case TAG_SET_ADMIN: return process_set_admin(&params);
    default: return POC_INVALID_INSTRUCTION;
  }
}
