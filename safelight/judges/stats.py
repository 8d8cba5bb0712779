"""Thread-safe counters a remote judge keeps, so that retries and failures are visible, not silent."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class JudgeStats:
    """Counts across all `score` calls of one judge: requests (HTTP attempts), retries, failures
    (items returned as NaN), unparsable answers, timeouts, connection errors, and HTTP statuses."""

    _FIELDS = ("requests", "retries", "failures", "unparsable", "timeouts", "connection_errors")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.failures = 0
        self.unparsable = 0
        self.timeouts = 0
        self.connection_errors = 0
        self.http_status: Counter[int] = Counter()

    def add(self, field: str, n: int = 1) -> None:
        if field not in self._FIELDS:
            raise KeyError(field)
        with self._lock:
            setattr(self, field, getattr(self, field) + n)

    def add_status(self, status: int) -> None:
        with self._lock:
            self.http_status[status] += 1

    def as_dict(self) -> dict[str, Any]:
        """A snapshot, e.g. for MLflow or `ScoringResult.judge_stats`."""
        with self._lock:
            out: dict[str, Any] = {f: getattr(self, f) for f in self._FIELDS}
            out["http_status"] = dict(sorted(self.http_status.items()))
        return out

    def __repr__(self) -> str:
        return f"JudgeStats({self.as_dict()})"

    # Locks cannot be pickled; the counters can (judges travel to DataLoader workers / other ranks).
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
