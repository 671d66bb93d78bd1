"""Python builders for the SPL programs EVCH uses (Token-2022, Associated Token Account).

``token2022`` encodes Token-2022 instructions (base and the extensions EVCH needs), computes
extension-aware account sizes and parses mint and token-account state. ``evch_mint`` defines the
EVCH token and the Green Credit token on top of it. ``results`` reads compute units and errors
from a LiteSVM transaction result. Nothing here talks to a ledger: the functions return solders
``Instruction`` values and parse bytes.
"""
