"""Where a charging session is born, metered and closed, whatever protocol carried it."""
