"""The production central system (CSMS): OCPP endpoints, sessions, storage and REST API.

Production code: it never imports the twin or the emulated chargers and reads time only from
the clock it is given.
"""
