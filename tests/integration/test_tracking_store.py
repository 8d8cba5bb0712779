"""A new local MLflow store is created once even when several runs start on it together."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = "from safelight.tracking import ensure_local_store; ensure_local_store('sqlite:///mlruns/mlflow.db')"


def test_concurrent_first_use_of_a_new_store(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert (tmp_path / "mlruns" / "mlflow.db").exists()
