"""The version-agnostic domain of the central system: chargers, connectors, drivers, sessions."""
