"""The OCPP protocol layer: thin adapters from 1.6J and 2.0.1 messages to the domain.

OCPP wire types never leave this package.
"""
