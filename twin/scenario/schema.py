"""The scenario file schema: what an engineer writes in a TOML scenario, validated by pydantic.

Every section forbids unknown keys, so a typo is an error rather than a silently ignored
setting. Units are in the field names (``_h``, ``_s``, ``_min``, ``_kw``, ``_kwh``). Paths in
the file are relative to the scenario file's folder: validate with
``Scenario.model_validate(data, context={"base_dir": folder})`` (without a context they are
relative to the working directory). ``twin.scenario.loader.load_scenario`` does this for a file
and turns errors into messages that point at lines.

Checks that span sections (unique site and charger ids, faults naming existing chargers and
falling inside the run, the replayed site existing) run even when other sections are invalid,
so that one validation reports every problem of a file.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from central_system.clock import zone_key
from central_system.payments import EvchPeg, PegBasis, SettleIn
from central_system.pricing import FxConfig, PricingError, TariffConfig
from central_system.smart_charging.policies import POLICIES
from central_system.tokens.bootstrap import TokenSettings
from central_system.tokens.settings_file import TokenSettingsError, load_token_settings

Loc = tuple[str | int, ...]

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")
]
"""A site or charger id: 1..40 letters, digits, '.', '_' or '-'."""

Protocol = Literal["1.6", "2.0.1"]
LoadPolicy = Literal[POLICIES]  # the CSMS's site load-management policies
Current = Literal["AC", "DC"]
Fraction = Annotated[float, Field(gt=0, le=1)]

# The fields of a models file entry that the twin reads (see twin/ev_catalogue.py).
EV_MODEL_KEYS = (
    "battery_capacity",
    "max_ac_charge_power",
    "max_dc_charge_power",
    "number_of_registrations",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _invalid(title: str, problems: Iterable[tuple[Loc, str, str, Any]]) -> ValidationError:
    """A ValidationError with one error per ``(loc, type, message, input)``.

    Raised inside a validator, its locations are relative to the validated value, so a model
    validator can point at one of its fields (or deeper) instead of at the whole model.
    """
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)
            for loc, kind, message, value in problems
        ],
    )


def _resolve_file(path: Path, info: ValidationInfo) -> Path:
    """``path`` made absolute against the context's ``base_dir``; it must be a file."""
    base_dir = Path((info.context or {}).get("base_dir", Path.cwd()))
    resolved = (base_dir / path).resolve()
    if not resolved.is_file():
        raise ValueError(f"file not found: {resolved}")
    return resolved


def _read_ev_models(path: Path) -> dict[str, Any]:
    """The models file as a dict name -> fields; ValueError if it is not one."""
    try:
        models = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path} as JSON: {error}") from None
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{path} must hold a JSON object of car models (name -> fields)")
    return models


def expanded_charger_ids(charger_id: str, count: int) -> list[str]:
    """The ids a charger spec stands for: itself, or ``{id}-01..{id}-10`` for count = 10."""
    if count == 1:
        return [charger_id]
    width = len(str(count))
    return [f"{charger_id}-{n:0{width}d}" for n in range(1, count + 1)]


# ---------------------------------------------------------------------------------------------
# [scenario], [timing]


class ScenarioMeta(_Section):
    """``[scenario]``: what the run is, when it starts and how long it lasts."""

    name: Annotated[str, StringConstraints(min_length=1)]
    description: str = ""
    start: datetime  # naive: local time in time_zone; an offset datetime is accepted too
    time_zone: Annotated[str, AfterValidator(zone_key)]  # an IANA zone key, e.g. "Asia/Tehran"
    duration_h: Annotated[float, Field(gt=0)]
    seed: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _start_exists(self) -> ScenarioMeta:
        start = self.start
        if start.tzinfo is None:
            local = start.replace(tzinfo=ZoneInfo(self.time_zone))
            if local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) != start:
                raise _invalid(
                    type(self).__name__,
                    [
                        (
                            ("start",),
                            "nonexistent_time",
                            f"{start.isoformat()} does not exist in {self.time_zone} "
                            "(the clocks skip it when daylight saving time begins)",
                            start,
                        )
                    ],
                )
        return self


class Timing(_Section):
    """``[timing]``: how often chargers report and the twin re-evaluates charging."""

    meter_interval_s: Annotated[int, Field(ge=1)] = 300  # MeterValues period
    heartbeat_interval_s: Annotated[int, Field(ge=1)] = 3600
    power_step_s: Annotated[int, Field(ge=1)] = 300  # how often an EV's curve is re-evaluated
    replan_interval_s: Annotated[int, Field(ge=1)] = 300  # the CSMS's site re-planning period


# ---------------------------------------------------------------------------------------------
# [[sites]] and their chargers


class Location(_Section):
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


@dataclass(frozen=True)
class ExpandedCharger:
    """One charger of the fleet, after a spec's ``count`` has been expanded."""

    charger_id: str
    site_id: str
    protocol: Protocol
    evses: int
    max_power_kw: float  # the most one EVSE delivers
    current: Current
    real: bool = False  # a real charger of a HIL rig ([[hardware]]), not emulated by the twin


class ChargerSpec(_Section):
    """One charger, or ``count`` identical ones with ids ``{id}-1..{id}-N`` (zero-padded)."""

    id: Identifier
    protocol: Protocol  # the OCPP version it speaks: "1.6" (1.6J) or "2.0.1"
    evses: Annotated[int, Field(ge=1, le=16)] = 1
    max_power_kw: Annotated[float, Field(gt=0)]  # per EVSE
    current: Current = "AC"
    count: Annotated[int, Field(ge=1)] = 1

    def charger_ids(self) -> list[str]:
        return expanded_charger_ids(self.id, self.count)

    def expand(self, site_id: str) -> list[ExpandedCharger]:
        return [
            ExpandedCharger(
                charger_id, site_id, self.protocol, self.evses, self.max_power_kw, self.current
            )
            for charger_id in self.charger_ids()
        ]


class PvSpec(_Section):
    """``[sites.pv]``: a fixed PV array on site (clear-sky output from pvlib)."""

    kwp: Annotated[float, Field(gt=0)]  # DC peak power
    tilt_deg: Annotated[float, Field(ge=0, le=90)] = 20.0  # from horizontal
    azimuth_deg: Annotated[float, Field(ge=0, le=360)] = 180.0  # clockwise from north


class GridSignals(_Section):
    """``[sites.grid]``: recorded grid signals replayed onto the run's dates."""

    day_ahead_prices_csv: Path | None = None  # ENTSO-E day-ahead prices, EUR/MWh, hourly
    marginal_emissions_csv: Path | None = None  # WattTime MOER, kg CO2/kWh, 5 min

    @field_validator("day_ahead_prices_csv", "marginal_emissions_csv")
    @classmethod
    def _path_exists(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return None if path is None else _resolve_file(path, info)


class Site(_Section):
    """``[[sites]]``: a place with chargers behind one grid connection."""

    id: Identifier
    name: str
    location: Location
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]  # ISO 4217, e.g. "USD"
    time_zone: Annotated[str, AfterValidator(zone_key)] | None = None  # default the scenario's
    grid_limit_kw: Annotated[float, Field(gt=0)]
    # The CSMS's load management at this site (central_system/smart_charging/policies.py).
    policy: LoadPolicy = "uncontrolled"
    # The CSMS's prices here (central_system/pricing); the currency and time zone are the
    # site's. Without a tariff, energy at the site is not priced.
    tariff: TariffConfig | None = None
    pv: PvSpec | None = None
    grid: GridSignals = GridSignals()
    chargers: Annotated[list[ChargerSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _signals_for_policy(self) -> Site:
        problems: list[tuple[Loc, str, str, Any]] = []
        if self.policy == "price_aware" and self.tariff is None:
            message = "price_aware follows the site's prices: give the site a [tariff]"
            problems.append((("policy",), "needs_tariff", message, self.policy))
        if (
            self.policy == "renewable_following"
            and self.pv is None
            and self.grid.marginal_emissions_csv is None
        ):
            message = "renewable_following needs on-site [pv] or grid.marginal_emissions_csv"
            problems.append((("policy",), "needs_signals", message, self.policy))
        if self.tariff is not None and self.tariff.wholesale_share > 0:
            if self.grid.day_ahead_prices_csv is None:
                message = "a wholesale_share needs grid.day_ahead_prices_csv"
                problems.append((("tariff", "wholesale_share"), "needs_prices", message, None))
        if problems:
            raise _invalid(type(self).__name__, problems)
        return self


# ---------------------------------------------------------------------------------------------
# [ev_population], [drivers]


class EvPopulation(_Section):
    """``[ev_population]``: which cars come, and how their batteries behave."""

    models_file: Path  # JSON name -> fields; relative to the scenario file's folder
    shares: dict[str, Annotated[float, Field(gt=0)]] | None = None  # None: by registrations
    taper_soc: Fraction = 0.8  # state of charge where the charging power starts to fall
    taper_min_fraction: Fraction = 0.1  # power at full battery, as a fraction of the maximum
    efficiency: Fraction = 0.92  # battery energy gained per metered energy
    arrival_soc: tuple[float, float] = (0.1, 0.6)  # uniform range of the arrival state of charge

    @field_validator("models_file")
    @classmethod
    def _models_file_usable(cls, path: Path, info: ValidationInfo) -> Path:
        path = _resolve_file(path, info)
        for name, fields in _read_ev_models(path).items():
            present = fields if isinstance(fields, dict) else {}
            missing = [key for key in EV_MODEL_KEYS if key not in present]
            if missing:
                raise ValueError(f"{path}: model {name!r} lacks {', '.join(missing)}")
        return path

    @field_validator("shares")
    @classmethod
    def _shares_name_known_models(
        cls, shares: dict[str, float] | None, info: ValidationInfo
    ) -> dict[str, float] | None:
        if shares is None:
            return None
        if not shares:
            raise ValueError(
                "name at least one model, or leave shares out to weigh by registrations"
            )
        models_file = info.data.get("models_file")
        if models_file is None:  # already reported
            return shares
        known = list(_read_ev_models(models_file))
        unknown = [name for name in shares if name not in known]
        if unknown:
            raise _invalid(
                "shares",
                [
                    (
                        (name,),
                        "unknown_model",
                        f"no model {name!r} in {models_file.name}{_did_you_mean(name, known)}",
                        name,
                    )
                    for name in unknown
                ],
            )
        return shares

    @field_validator("arrival_soc")
    @classmethod
    def _soc_range(cls, soc: tuple[float, float]) -> tuple[float, float]:
        low, high = soc
        if not 0 <= low <= high < 1:
            raise ValueError(f"need 0 <= low <= high < 1, got {list(soc)}")
        return soc


class Drivers(_Section):
    """``[drivers]``: the id tokens the central system knows."""

    count: Annotated[int, Field(ge=1)]
    token_prefix: str = "DRIVER-"
    unknown_token_share: Annotated[float, Field(ge=0, lt=1)] = 0.0  # arrivals refused as unknown


# ---------------------------------------------------------------------------------------------
# [arrivals]


class Distribution(_Section):
    """A lognormal with this mean and standard deviation, clipped to [min, max]."""

    mean: Annotated[float, Field(gt=0)]
    sd: Annotated[float, Field(ge=0)]
    min: Annotated[float, Field(ge=0)] = 0.0
    max: float | None = None

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if value is not None and low is not None and value < low:
            raise ValueError(f"max ({value}) is below min ({low})")
        return value


class GeneratedArrivals(_Section):
    """Synthetic arrivals: a Poisson process per site with an hourly profile."""

    kind: Literal["generated"]
    rate_per_hour: Annotated[
        list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)
    ]  # expected arrivals per hour of the local day (0..23), per site
    stay_h: Distribution
    energy_kwh: Distribution  # metered energy the EV wants
    leave_when_full: bool = False


class SessionsCsvArrivals(_Section):
    """Real sessions replayed from an ACN-Data CSV."""

    kind: Literal["sessions_csv"]
    path: Path  # relative to the scenario file's folder
    start: date  # first local day replayed
    days: Annotated[int, Field(ge=1)]
    site: str | None = None  # the site the stations belong to; default the first site
    energy: Literal["delivered", "requested"] = "delivered"
    unknown_station: Literal["any_free", "refuse"] = "any_free"
    leave_when_full: bool = False

    @field_validator("path")
    @classmethod
    def _path_exists(cls, path: Path, info: ValidationInfo) -> Path:
        return _resolve_file(path, info)


Arrivals = Annotated[GeneratedArrivals | SessionsCsvArrivals, Field(discriminator="kind")]


class Tokens(_Section):
    """``[tokens]``: EVCH on the embedded ledger: wallets, KYC and a Proof-of-Charge per session."""

    enabled: bool = False
    kyc_approval_share: Annotated[float, Field(ge=0, le=1)] = 0.9  # drivers KYC approves
    # Drivers who pay their sessions in EVCH whenever their balance covers the bill.
    evch_payment_share: Annotated[float, Field(ge=0, le=1)] = 0.0
    peg: Literal["kwh", "usd"] = "kwh"  # one EVCH: the site's average kWh price, or a USD rate
    usd_per_evch: Annotated[Decimal, Field(gt=0)] | None = None
    settle_in: Literal["fiat", "usdc"] = "fiat"  # what the operator is paid for EVCH received
    # The token service's rates, fee, lockups and tiers (and the peg, if the file has one), as
    # the tokenomics tuner exports them; relative to the scenario file's folder.
    settings_file: Path | None = None
    _settings: TokenSettings = PrivateAttr(default_factory=TokenSettings)
    _file_peg: EvchPeg | None = PrivateAttr(default=None)

    @field_validator("settings_file")
    @classmethod
    def _settings_file_exists(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return None if path is None else _resolve_file(path, info)

    @model_validator(mode="after")
    def _usd_peg_has_a_rate(self) -> Tokens:
        if self.peg == "usd" and self.usd_per_evch is None:
            raise _invalid(
                type(self).__name__,
                [(("usd_per_evch",), "missing", "a USD peg needs usd_per_evch", None)],
            )
        return self

    @model_validator(mode="after")
    def _settings_file_loads(self) -> Tokens:
        if self.settings_file is None:
            return self
        try:
            self._settings, self._file_peg = load_token_settings(self.settings_file)
        except TokenSettingsError as error:
            problems = "; ".join(map(str, error.problems))
            raise _invalid(
                type(self).__name__,
                [(("settings_file",), "value_error", problems, str(self.settings_file))],
            ) from None
        given_here = sorted({"peg", "usd_per_evch", "settle_in"} & self.model_fields_set)
        if self._file_peg is not None and given_here:
            message = "the settings file has a [token_service.peg]: set the peg in one place"
            raise _invalid(type(self).__name__, [((given_here[0],), "value_error", message, None)])
        return self

    def evch_peg(self) -> EvchPeg:
        if self._file_peg is not None:
            return self._file_peg
        return EvchPeg(PegBasis(self.peg), self.usd_per_evch, settle_in=SettleIn(self.settle_in))

    def token_settings(self) -> TokenSettings:
        """What the ledger is bootstrapped with: the settings file's, or the defaults."""
        return self._settings


# ---------------------------------------------------------------------------------------------
# [[faults]]


class Fault(_Section):
    """Something goes wrong at a charger:

    - `disconnect`: it loses its connection to the central system for `duration_min`;
    - `tamper_meter`: from `at_h` on, it adds `added_wh` to every transaction's stop reading
      after the meter signed it (the signed record and the OCPP meterStop both), as tampered
      firmware would.
    """

    kind: Literal["disconnect", "tamper_meter"]
    charger: str  # an (expanded) charger id
    at_h: Annotated[float, Field(ge=0)] = 0.0  # hours after the start
    duration_min: Annotated[float, Field(gt=0)] | None = None
    added_wh: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Fault:
        needed = {"disconnect": "duration_min", "tamper_meter": "added_wh"}[self.kind]
        unused = {"disconnect": "added_wh", "tamper_meter": "duration_min"}[self.kind]
        problems = []
        if getattr(self, needed) is None:
            message = f"a {self.kind} fault needs {needed}"
            problems.append(((needed,), "missing", message, None))
        if getattr(self, unused) is not None:
            message = f"a {self.kind} fault has no {unused}"
            problems.append(((unused,), "extra_forbidden", message, getattr(self, unused)))
        if problems:
            raise _invalid(type(self).__name__, problems)
        return self


# ---------------------------------------------------------------------------------------------
# [[hardware]]


class HardwareCharger(_Section):
    """``[[hardware]]``: a real charger on a HIL rig. It connects to the external central
    system by itself; the twin cannot plug a car into it, so it starts and stops its sessions
    through the CSMS (remote start with `id_token`, remote stop at the EV's departure) and reads
    its measured power from the CSMS."""

    id: Identifier  # its charge point identity at the CSMS
    site: Identifier  # the site (of [[sites]]) whose grid connection it is behind
    protocol: Protocol
    evses: Annotated[int, Field(ge=1, le=16)] = 1
    max_power_kw: Annotated[float, Field(gt=0)]  # per EVSE
    current: Current = "AC"
    # The test card the twin starts its sessions with (an OCPP 1.6 idTag: at most 20 characters).
    id_token: Annotated[str, StringConstraints(min_length=1, max_length=20)]

    def expand(self) -> ExpandedCharger:
        return ExpandedCharger(
            self.id, self.site, self.protocol, self.evses, self.max_power_kw, self.current, True
        )


# ---------------------------------------------------------------------------------------------
# the whole file


class Scenario(_Section):
    scenario: ScenarioMeta
    timing: Timing = Timing()
    sites: Annotated[list[Site], Field(min_length=1)]
    # Exchange rates, e.g. to price a EUR wholesale signal in a site's IRR tariff.
    fx: FxConfig | None = None
    ev_population: EvPopulation
    drivers: Drivers
    arrivals: Arrivals
    tokens: Tokens = Tokens()
    faults: list[Fault] = []
    hardware: list[HardwareCharger] = []  # real chargers (HIL runs only)

    @model_validator(mode="wrap")
    @classmethod
    def _check_across_sections(cls, data: Any, handler: Any) -> Scenario:
        if isinstance(data, Mapping):
            data = _with_tariff_defaults(data)
        across = _cross_section_problems(data) if isinstance(data, Mapping) else []
        try:
            scenario = handler(data)
        except ValidationError as error:
            if not across:
                raise
            errors = [(e["loc"], e["type"], e["msg"], e.get("input")) for e in error.errors()]
            raise _invalid(cls.__name__, [*errors, *across]) from None
        if across:
            raise _invalid(cls.__name__, across)
        return scenario

    @model_validator(mode="after")
    def _fx_for_wholesale(self) -> Scenario:
        """A wholesale price in EUR needs a rate into every currency that passes it on."""
        problems: list[tuple[Loc, str, str, Any]] = []
        for i, site in enumerate(self.sites):
            tariff = site.tariff
            if tariff is None or tariff.wholesale_share == 0 or tariff.currency == "EUR":
                continue
            try:
                (self.fx or FxConfig(rates={})).table().rate("EUR", tariff.currency)
            except PricingError as error:
                message = f"the EUR day-ahead price needs an [fx] rate: {error.message}"
                problems.append((("sites", i, "tariff", "wholesale_share"), "fx", message, None))
        if problems:
            raise _invalid(type(self).__name__, problems)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.scenario.time_zone)

    @property
    def start_at(self) -> datetime:
        """The start as an aware datetime in the scenario's time zone."""
        start = self.scenario.start
        if start.tzinfo is None:
            return start.replace(tzinfo=self.zone)
        return start.astimezone(self.zone)

    @property
    def end_at(self) -> datetime:
        """``duration_h`` of elapsed time after the start (not wall-clock: DST shifts it)."""
        end_utc = self.start_at.astimezone(UTC) + timedelta(hours=self.scenario.duration_h)
        return end_utc.astimezone(self.zone)

    def site_zone(self, site: Site) -> str:
        return site.time_zone or self.scenario.time_zone

    def chargers(self) -> list[tuple[Site, ExpandedCharger]]:
        """Every charger with its site, in file order."""
        return [
            (site, charger)
            for site in self.sites
            for spec in site.chargers
            for charger in spec.expand(site.id)
        ]

    def hardware_chargers(self) -> list[tuple[Site, ExpandedCharger]]:
        """The real chargers ([[hardware]]) with their sites, in file order."""
        sites = {site.id: site for site in self.sites}
        return [(sites[real.site], real.expand()) for real in self.hardware]


# ---------------------------------------------------------------------------------------------
# checks across sections, on the raw data so they run even when other sections are invalid

_ID = TypeAdapter(Identifier)
_COUNT = TypeAdapter(Annotated[int, Field(ge=1)])
_HOURS = TypeAdapter(Annotated[float, Field(ge=0)])


def _coerced(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` validated as the schema would, or None when it is invalid (reported elsewhere)."""
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _list_of_tables(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]] | None:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        return None
    return value


def _with_tariff_defaults(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A site's tariff is in the site's currency and time zone: fill them in from the site.

    Written out in the tariff they must agree with the site (checked in the cross-section pass).
    """
    sites = _list_of_tables(data, "sites")
    meta = data.get("scenario")
    if sites is None:
        return data
    default_zone = meta.get("time_zone") if isinstance(meta, Mapping) else None
    filled = []
    for site in sites:
        tariff = site.get("tariff")
        if isinstance(tariff, Mapping):
            defaults = {"currency": site.get("currency")}
            zone = site.get("time_zone", default_zone)
            if zone is not None:
                defaults["time_zone"] = zone
            site = {**site, "tariff": {**defaults, **tariff}}
        filled.append(site)
    return {**data, "sites": filled}


def _cross_section_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str, str, Any]]:
    problems: list[tuple[Loc, str, str, Any]] = []
    site_ids: dict[str, int] = {}  # id -> index of the site that has it
    charger_sites: dict[str, str | None] = {}  # expanded charger id -> site id
    all_sites_known = all_chargers_known = True

    sites = _list_of_tables(data, "sites")
    if sites is None:
        all_sites_known = all_chargers_known = False
    for i, site in enumerate(sites or []):
        site_id = _coerced(_ID, site.get("id"))
        if site_id is None:
            all_sites_known = False
        elif site_id in site_ids:
            message = f"site id {site_id!r} is already used by sites[{site_ids[site_id]}]"
            problems.append((("sites", i, "id"), "duplicate_id", message, site_id))
        else:
            site_ids[site_id] = i
        specs = _list_of_tables(site, "chargers")
        if specs is None:
            all_chargers_known = False
        for j, spec in enumerate(specs or []):
            charger_id = _coerced(_ID, spec.get("id"))
            count = _coerced(_COUNT, spec.get("count", 1))
            if charger_id is None or count is None:
                all_chargers_known = False
                continue
            for expanded in expanded_charger_ids(charger_id, count):
                if expanded in charger_sites:
                    where = charger_sites[expanded]
                    message = f"charger id {expanded!r} is already used" + (
                        f" in site {where!r}" if where else ""
                    )
                    loc = ("sites", i, "chargers", j, "id")
                    problems.append((loc, "duplicate_id", message, charger_id))
                    break
            for expanded in expanded_charger_ids(charger_id, count):
                charger_sites.setdefault(expanded, site_id)

    for i, site in enumerate(sites or []):
        tariff = site.get("tariff")
        if isinstance(tariff, Mapping):
            for key in ("currency", "time_zone"):
                own = site.get(key) if key == "currency" else site.get(key, tariff.get(key))
                if own is not None and tariff.get(key) != own:
                    message = f"the tariff's {key} must be the site's ({own!r})"
                    problems.append((("sites", i, "tariff", key), "mismatch", message, tariff[key]))

    real_ids: dict[str, int] = {}  # id -> index of the [[hardware]] entry that has it
    for k, real in enumerate(_list_of_tables(data, "hardware") or []):
        charger_id = _coerced(_ID, real.get("id"))
        if charger_id is not None and charger_id in charger_sites:
            where = charger_sites[charger_id]
            message = f"charger id {charger_id!r} is already used by an emulated charger" + (
                f" in site {where!r}" if where else ""
            )
            problems.append((("hardware", k, "id"), "duplicate_id", message, charger_id))
        elif charger_id is not None and charger_id in real_ids:
            message = (
                f"charger id {charger_id!r} is already used by hardware[{real_ids[charger_id]}]"
            )
            problems.append((("hardware", k, "id"), "duplicate_id", message, charger_id))
        elif charger_id is not None:
            real_ids[charger_id] = k
        site = real.get("site")
        if all_sites_known and isinstance(site, str) and site not in site_ids:
            message = f"no site {site!r}{_did_you_mean(site, site_ids)}"
            problems.append((("hardware", k, "site"), "unknown_site", message, site))

    meta = data.get("scenario")
    duration_h = _coerced(_HOURS, meta.get("duration_h")) if isinstance(meta, Mapping) else None
    for k, fault in enumerate(_list_of_tables(data, "faults") or []):
        charger = fault.get("charger")
        if all_chargers_known and isinstance(charger, str) and charger not in charger_sites:
            message = f"no charger {charger!r} in any site{_did_you_mean(charger, charger_sites)}"
            problems.append((("faults", k, "charger"), "unknown_charger", message, charger))
        at_h = _coerced(_HOURS, fault.get("at_h"))
        if duration_h is not None and at_h is not None and at_h >= duration_h:
            message = f"must be before the end of the run (duration_h = {duration_h:g})"
            problems.append((("faults", k, "at_h"), "fault_after_end", message, at_h))

    arrivals = data.get("arrivals")
    if isinstance(arrivals, Mapping) and arrivals.get("kind") == "sessions_csv":
        site = arrivals.get("site")
        if all_sites_known and isinstance(site, str) and site not in site_ids:
            message = f"no site {site!r}{_did_you_mean(site, site_ids)}"
            problems.append((("arrivals", "site"), "unknown_site", message, site))
    return problems
