"""The SimPy digital twin: EVs, sites and emulated chargers driven by a scenario file."""
