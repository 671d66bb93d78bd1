"""The Streamlit views: `evch ui` serves app.py, whose pages (views/) read run directories
(runs.py), the settings `evch ui` was given (settings.py) and, on the ledger admin page, the
central system's REST API (csms_api.py).

    serve.py                `evch ui`: Streamlit serving app.py
    app.py                  the navigation between the pages
    views/                  the pages, a script each: tokenomics (the tuner), run_explorer,
                            replay_report, ledger_admin
    settings.py             the runs root and the CSMS API URL (EVCH_UI_RUNS, EVCH_UI_API_URL)
    runs.py                 run directories: listed, checked, loaded (with their token flows)
    picker.py               the run picker the run pages share, and the chosen run loaded
    cached.py               a run's data, its replay and its ledger history, cached per run
    charger_states.py       what each charger did when, from the twin's events
    charts.py               the run explorer's own charts (the rest are twin/report/'s)
    ledger_history.py       a run's EVCH history for the ledger admin page
    ledger_charts.py        the ledger admin page's charts, of a run's history or the live API
    ledger_actions.py       the ledger admin page's actions, each confirmed before it is sent
    csms_api.py             the CSMS REST API with the admin token, refusals told in words
    tokenomics_controls.py  the tuner's controls, made from the model's parameters
    tokenomics_charts.py    the tuner's charts: fan charts of A and B, unlocks, sweeps
    formats.py              numbers for the tables and metrics
    layout.py               metrics in rows, a chart or its empty state
"""
