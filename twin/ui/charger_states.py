"""What each charger was doing when, from the twin's events (events.jsonl): per connector,
charging or plugged in without charging; per charger, its faults."""

from __future__ import annotations

import pandas as pd

CHARGING = "charging"
PLUGGED = "plugged in, not charging"
FAULT = "fault"
COLUMNS = ["bay", "state", "start", "end", "detail"]

# The event that puts a visit's bay into a state (the next one, or the departure, ends it).
_VISIT_STATES = {
    "plug_in": PLUGGED,
    "start": CHARGING,
    "satisfied": PLUGGED,
    "stopped_by_charger": PLUGGED,
}


def charger_states(events: pd.DataFrame, run_end: pd.Timestamp) -> pd.DataFrame:
    """Intervals (bay, state, start, end, detail); `bay` is "charger / evse" for a connector
    and the charger id for a charger-wide fault. What is still open at `run_end` ends there."""
    if events.empty:
        return pd.DataFrame(columns=COLUMNS)
    intervals: list[tuple] = []
    open_visits: dict[str, tuple] = {}  # arrival id -> (bay, state, since, detail)
    open_faults: dict[str, tuple] = {}  # charger id -> (bay, state, since, detail)
    for event in events.sort_values("t", kind="stable").itertuples(index=False):
        kind = event.event
        if kind in ("fault_start", "fault_end"):
            if event.charger_id in open_faults:
                intervals.append((*open_faults.pop(event.charger_id), event.t))
            if kind == "fault_start":
                open_faults[event.charger_id] = (event.charger_id, FAULT, event.t, event.fault)
            continue
        if kind not in _VISIT_STATES and kind != "departure":
            continue
        if event.arrival_id in open_visits:
            intervals.append((*open_visits.pop(event.arrival_id), event.t))
        if kind in _VISIT_STATES and isinstance(event.charger_id, str):
            bay = f"{event.charger_id} / {int(event.evse_id)}"
            open_visits[event.arrival_id] = (bay, _VISIT_STATES[kind], event.t, event.arrival_id)
    intervals += [(*still, run_end) for still in (*open_visits.values(), *open_faults.values())]
    table = pd.DataFrame(
        [(bay, state, start, end, detail) for bay, state, start, detail, end in intervals],
        columns=COLUMNS,
    )
    return table[table["end"] > table["start"]].sort_values(["bay", "start"], ignore_index=True)
