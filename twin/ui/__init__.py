"""The Streamlit views: `evch ui` serves app.py, whose pages (views/) read run directories
(runs.py) and the settings `evch ui` was given (settings.py).

    serve.py           `evch ui`: Streamlit serving app.py
    app.py             the navigation: tokenomics tuner, run explorer, replay report, ledger admin
    settings.py        the runs root and the CSMS API URL (EVCH_UI_RUNS, EVCH_UI_API_URL)
    runs.py            run directories: listed, checked, loaded
    picker.py          the run picker the run pages share
    cached.py          a run's data and its replay, cached per run
    charger_states.py  what each charger did when, from the twin's events
    token_flows.py     where the EVCH went, from the ledger log
    charts.py          the run explorer's own charts (the rest are twin/report/'s)
    formats.py         numbers for the tables and metrics
    layout.py          metrics in rows
"""
