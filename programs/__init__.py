"""On-chain programs (C, built to SBPFv0) and the Python that builds their instructions."""
