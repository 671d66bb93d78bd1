"""Fixtures shared by the on-chain program tests: an in-process ledger and a funded payer."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.litesvm import LiteSVM

LAMPORTS_PER_SOL = 1_000_000_000


@pytest.fixture
def svm() -> LiteSVM:
    """A fresh LiteSVM with the standard programs (System, Token, Token-2022, ATA, ...)."""
    return LiteSVM()


@pytest.fixture
def payer(svm: LiteSVM) -> Keypair:
    """A keypair holding 100 SOL on `svm`."""
    keypair = Keypair()
    svm.airdrop(keypair.pubkey(), 100 * LAMPORTS_PER_SOL)
    return keypair
