"""The EVCH token in the central system: bootstrap, wallets, KYC, Proof-of-Charge outbox."""
