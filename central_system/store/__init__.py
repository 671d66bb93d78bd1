"""Persistence: SQLAlchemy 2 models, Alembic migrations and the group-commit database."""

from central_system.store.database import Database, migrate

__all__ = ["Database", "migrate"]
