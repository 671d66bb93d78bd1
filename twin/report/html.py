"""The report page: one self-contained HTML file, the summary first, then charts, then every
session. Every text from the Audit is escaped; the only markup is written here."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from twin.replay.audit import Audit, LimitCheck, SessionAudit, Verification
from twin.report.charts import Chart, chart_fragments, charts
from twin.report.formats import (
    NOTHING,
    abbreviated,
    evch_text,
    kwh_text,
    money_text,
    plural,
    share_text,
    time_text,
)

GENERATED_FROM = (
    "Rebuilt from the recorded OCPP frames, checked against the CSMS database and ledger.jsonl."
)

# System fonts only: the page must open offline, with nothing fetched.
STYLE = """
body { font-family: system-ui, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #212121;
       margin: 24px auto; max-width: 1400px; padding: 0 16px; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #bdbdbd; }
.subtitle { color: #616161; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
#summary { width: auto; min-width: 60%; }
#summary th { background: #f5f5f5; width: 14em; }
#summary ul { margin: 4px 0 0; padding-left: 18px; }
.ok { color: #1b5e20; }
.bad { color: #b71c1c; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: bold;
           color: #fff; }
.verdict.ok { background: #2e7d32; }
.verdict.bad { background: #c62828; }
.chart { margin: 8px 0 20px; }
.note { color: #616161; font-style: italic; }
#sessions { font-size: 12px; }
#sessions th { background: #eeeeee; position: sticky; top: 0; }
#sessions td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
#sessions tr.unverified td { background: #fdecea; }
#sessions tr.differs td { background: #fff8e1; }
#sessions td.differences { color: #b71c1c; }
small { color: #616161; }
.nowrap { white-space: nowrap; }
code { font-size: 0.95em; white-space: nowrap; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid #bdbdbd; color: #616161; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; padding: 0; max-width: none; font-size: 10px;
         -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; margin: 6px 0 4px; }
  .chart { break-inside: avoid; margin: 0; }
  .modebar-container { display: none !important; }
  #sessions { font-size: 9px; }
  #sessions th { position: static; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
"""


def render_html(audit: Audit) -> str:
    title = f"Replay audit: {audit.scenario}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="subtitle">{escape(GENERATED_FROM)}</p>
{_summary(audit)}
{_charts(charts(audit))}
{_sessions(audit.sessions)}
<footer>
<p>Run directory: <code>{escape(str(audit.run_dir))}</code></p>
<p>{escape(GENERATED_FROM)} All times are UTC.</p>
</footer>
</body>
</html>
"""


def _summary(audit: Audit) -> str:
    sessions = audit.sessions
    verified = len(sessions) - len(audit.exceptions)
    differences = audit.differences
    verdict = "Reconciled" if audit.reconciled else plural(len(differences), "difference")
    energy = (
        f"{kwh_text(sum(s.energy_wh or 0 for s in sessions))} kWh metered (OCPP), "
        f"{kwh_text(sum(s.verified_energy_wh or 0 for s in sessions))} kWh verified; "
        f"{evch_text(sum(s.minted_raw or 0 for s in sessions))} EVCH minted of "
        f"{evch_text(sum(s.expected_mint_raw for s in sessions))} expected"
    )
    rows = [
        ("Scenario", escape(audit.scenario)),
        ("Recorded frames", f"{audit.frames:,}"),
        ("Sessions", f'<span id="sessions-count">{len(sessions):,}</span>'),
        ("Verified", f'<span id="verified-share">{share_text(verified, len(sessions))}</span>'),
        ("Exceptions", _exceptions(audit.exceptions)),
        ("Grid limit", _limits(audit.limits)),
        ("Energy and tokens", escape(energy)),
        *_real_chargers(audit.real_chargers),
        (
            "Reconciliation",
            f'<span id="verdict" class="verdict {"ok" if audit.reconciled else "bad"}">'
            f"{escape(verdict)}</span>{_items(differences)}",
        ),
    ]
    body = "\n".join(f"<tr><th>{escape(name)}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<h2>Summary</h2>\n<table id="summary">\n{body}\n</table>'


def _real_chargers(charger_ids: tuple[str, ...]) -> list[tuple[str, str]]:
    """HIL runs: which chargers were real (not emulated, their frames not recorded)."""
    if not charger_ids:
        return []
    note = (
        "real hardware: their frames went to the CSMS directly, so their sessions are not "
        "rebuilt here; their measured power is in the site power"
    )
    names = ", ".join(f"<code>{escape(c)}</code>" for c in charger_ids)
    return [("Real chargers", f'<span id="real-chargers">{names}</span> ({escape(note)})')]


def _exceptions(exceptions: tuple[SessionAudit, ...]) -> str:
    if not exceptions:
        return '<span class="ok">none: every session verified</span>'
    listed = (
        f"charger {s.charger_id}, transaction {s.transaction_ref}: {s.reason or 'no reason given'}"
        for s in exceptions
    )
    return f'<span class="bad">{plural(len(exceptions), "session")}</span>{_items(listed)}'


def _limits(limits: tuple[LimitCheck, ...]) -> str:
    if not limits:
        return '<span class="note">no site limits were checked</span>'
    return _items(
        (
            f"site {check.site_id}: "
            + (
                "compliant"
                if check.compliant
                else f"{check.intervals_over:,} of {check.intervals:,} intervals over the limit"
            )
            + f", peak {check.peak_kw:,.1f} kW vs limit {check.grid_limit_kw:,.1f} kW",
            "ok" if check.compliant else "bad",
        )
        for check in limits
    )


def _items(items: Iterable[str | tuple[str, str]]) -> str:
    """A <ul> of escaped texts, each optionally with a class; nothing when there are none."""
    lines = []
    for item in items:
        text, css = item if isinstance(item, tuple) else (item, "")
        attribute = f' class="{css}"' if css else ""
        lines.append(f"<li{attribute}>{escape(text)}</li>")
    return f"<ul>{''.join(lines)}</ul>" if lines else ""


def _charts(chart_list: list[Chart]) -> str:
    sections = []
    for chart, fragment in zip(chart_list, chart_fragments(chart_list), strict=True):
        body = fragment or f'<p class="note">{escape(chart.empty_note)}</p>'
        sections.append(
            f'<section class="chart">\n<h2>{escape(chart.title)}</h2>\n{body}\n</section>'
        )
    return "\n".join(sections)


SESSION_COLUMNS = (
    "#", "charger", "transaction", "protocol", "start (UTC)", "stop (UTC)", "verification",
    "energy (kWh, OCPP)", "verified (kWh)", "price", "expected (EVCH)", "minted (EVCH)",
    "signature", "differences",
)  # fmt: skip


def _sessions(sessions: tuple[SessionAudit, ...]) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in SESSION_COLUMNS)
    body = "\n".join(_session_row(n, s) for n, s in enumerate(sessions, start=1))
    return f"""<section id="session-table">
<h2>Sessions ({len(sessions):,})</h2>
<table id="sessions">
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</section>"""


def _session_row(number: int, s: SessionAudit) -> str:
    unverified = s.verification is Verification.UNVERIFIED
    css = "unverified" if unverified else "differs" if s.differences else ""
    csms = "no CSMS session" if s.session_id is None else f"CSMS session {s.session_id}"
    status = escape(str(s.verification))
    if s.reason:
        status += f"<br><small>{escape(s.reason)}</small>"
    if s.signature:
        signature = f'<code title="{escape(s.signature)}">{escape(abbreviated(s.signature))}</code>'
    else:
        signature = NOTHING
    if s.meter_serial:
        signature += f"<br><small>meter {escape(s.meter_serial)}</small>"
    cells = (
        ("num", str(number)),
        ("", escape(s.charger_id)),
        ("", f"{escape(s.transaction_ref)}<br><small>{escape(csms)}</small>"),
        ("", escape(s.protocol)),
        ("", _unbroken_words(time_text(s.started_at))),
        ("", _unbroken_words(time_text(s.stopped_at))),
        ("", status),
        ("num", kwh_text(s.energy_wh)),
        ("num", kwh_text(s.verified_energy_wh)),
        ("num", escape(money_text(s.cost_minor, s.currency))),
        ("num", evch_text(s.expected_mint_raw)),
        ("num", _minted(s)),
        ("", signature),
        ("differences", "<br>".join(escape(d) for d in s.differences)),
    )
    tds = "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>" for c, v in cells)
    return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"


def _minted(s: SessionAudit) -> str:
    """The minted amount, or why verified energy is not minted yet (e.g. KYC pending)."""
    minted = evch_text(s.minted_raw)
    return f"{minted}<br><small>{escape(s.mint_note)}</small>" if s.mint_note else minted


def _unbroken_words(text: str) -> str:
    """Lines break between words only: "2025-03-01 08:00:00" never splits at a hyphen."""
    return " ".join(f'<span class="nowrap">{escape(word)}</span>' for word in text.split(" "))
