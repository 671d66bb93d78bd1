"""`evch replay RUN_DIR`: a run audited from its recorded frames (see reconcile.py)."""

from twin.replay.audit import Audit, LimitCheck, SessionAudit
from twin.replay.reconcile import RunDirError, replay

__all__ = ["Audit", "LimitCheck", "RunDirError", "SessionAudit", "replay"]
