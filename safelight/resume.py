"""Resume a `safelight fit` after a crash: where checkpoints go, how `--ckpt_path last` finds them, and
how the resumed run continues the same MLflow run.

Checkpoints go to `<trainer.default_root_dir or .>/checkpoints/<experiment>/<config digest>/last.ckpt`.
The digest covers the resolved config except the keys that only say how to (re)start or when to stop
(`ckpt_path`, `max_epochs`, `max_steps`, ...: RESTART_KEYS), so re-running the same command with
`--ckpt_path last` finds that command's own checkpoint, and a different config (method, seed, lr,
data, ...) never resumes from another's.
The MLflow run id is stored in the checkpoint; a resumed fit logs into that same run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from safelight.tracking import mlflow_loggers

log = logging.getLogger(__name__)

CHECKPOINT_SUBDIR = "checkpoints"
#: Keys that choose how a run starts or stops, or how it is shown, not what the steps train: left out
#: of the digest, so e.g. raising max_epochs and passing --ckpt_path last continues the same run.
RESTART_KEYS = ("ckpt_path", "config", "weights_only", "__path__", "evaluate_after_fit",
                "checkpoint_every_n_train_steps")
TRAINER_RESTART_KEYS = ("max_epochs", "max_steps", "max_time", "min_epochs", "min_steps", "enable_progress_bar",
                        "enable_model_summary", "limit_test_batches")
RESUMED_FROM_TAG = "safelight.resumed_from"
#: Top-level checkpoint key for what safelight itself stores.
CHECKPOINT_KEY = "safelight"
_LAST = re.compile(r"^last(-v?\d+)?\.ckpt$")


def config_digest(config: Any) -> str:
    """A short, stable digest of the resolved fit config minus the restart keys."""
    tree = config.as_dict() if hasattr(config, "as_dict") else dict(config)
    tree = {k: v for k, v in tree.items() if k not in RESTART_KEYS}
    if isinstance(tree.get("trainer"), dict):
        tree["trainer"] = {k: v for k, v in tree["trainer"].items() if k not in TRAINER_RESTART_KEYS}
    text = json.dumps(tree, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _init_args(spec: Any) -> Any:
    return spec.get("init_args") if hasattr(spec, "get") else getattr(spec, "init_args", None)


def mlflow_logger_spec(config: Any) -> Any:
    """The config node of the (first) MLFlowLogger, or None."""
    logger = config.get("trainer", {}).get("logger")
    for spec in logger if isinstance(logger, list) else [logger]:
        class_path = spec.get("class_path") if hasattr(spec, "get") else None
        if isinstance(class_path, str) and class_path.endswith("MLFlowLogger"):
            return spec
    return None


def experiment_name(config: Any) -> str:
    spec = mlflow_logger_spec(config)
    name = _init_args(spec).get("experiment_name") if spec is not None and _init_args(spec) else None
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name or "default"))


def checkpoint_dir(config: Any) -> Path:
    root = config.get("trainer", {}).get("default_root_dir") or "."
    return Path(root) / CHECKPOINT_SUBDIR / experiment_name(config) / config_digest(config)


def find_last_checkpoint(directory: Path) -> Path | None:
    """The newest `last*.ckpt` in `directory`, as Lightning's own `ckpt_path="last"` picks it."""
    if not directory.is_dir():
        return None
    candidates = [p for p in directory.iterdir() if _LAST.match(p.name) and p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def checkpoint_run_id(path: Path) -> str | None:
    """The MLflow run id stored by `MLflowRunRecord`; loads with weights_only (no pickle code runs)
    and mmap (tensors are not read)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    state = checkpoint.get(CHECKPOINT_KEY, {})
    run_id = state.get("mlflow_run_id") if isinstance(state, dict) else None
    return run_id if isinstance(run_id, str) else None


def _run_exists(tracking_uri: str | None, run_id: str) -> bool:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri).get_run(run_id)
    except MlflowException:
        return False
    return True


def prepare_resume(config: Any, directory: Path) -> Path | None:
    """Resolve `ckpt_path: last` to the checkpoint in `directory` (this config's) and point the MLflow
    logger at the run that wrote it. Returns the checkpoint resumed from, or None for a fresh start.
    Call after `checkpoint_dir(config)`: this sets the logger's run_id in `config`."""
    ckpt_path = config.get("ckpt_path")
    if not ckpt_path:
        return None
    if ckpt_path == "last":
        found = find_last_checkpoint(directory)
        if found is None:
            # As Lightning does: `last` with nothing to resume is a fresh start, so the flag can always be set.
            log.warning("--ckpt_path last: no checkpoint under %s yet; starting from scratch", directory)
            config.ckpt_path = None
            return None
        config.ckpt_path = str(found)
    path = Path(config.ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path {str(path)!r} does not exist")
    spec = mlflow_logger_spec(config)
    args = _init_args(spec) if spec is not None else None
    run_id = checkpoint_run_id(path)
    if args is not None and run_id and not args.get("run_id"):
        if _run_exists(args.get("tracking_uri"), run_id):
            args["run_id"] = run_id
        else:
            log.warning("the checkpoint's MLflow run %s is not in this tracking store; a new run records "
                        "the resume in its tags", run_id)
    return path


class ResumableCheckpoint(ModelCheckpoint):
    """Only `last.ckpt`, written every `every_n_train_steps` (if set) and at every epoch end.

    Lightning's step and epoch triggers are mutually exclusive, and with `save_top_k=0` it writes
    `last` only on step triggers: saving at epoch ends too means a finished run is always resumable
    from its true end, and an epoch-end checkpoint needs no mid-epoch loader state.
    """

    def __init__(self, dirpath: str | Path, every_n_train_steps: int | None = None) -> None:
        super().__init__(dirpath=dirpath, save_last=True, save_top_k=0,
                         every_n_train_steps=every_n_train_steps or None)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class MLflowRunRecord(Callback):
    """Stores the MLflow run id in every checkpoint, and tags a resumed run with its checkpoint."""

    def __init__(self, resumed_from: str | None = None) -> None:
        self.resumed_from = resumed_from

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.resumed_from is None or trainer.global_rank != 0:
            return
        for logger in mlflow_loggers(trainer):
            logger.experiment.set_tag(logger.run_id, RESUMED_FROM_TAG, self.resumed_from)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        loggers = mlflow_loggers(trainer)
        if loggers:
            checkpoint.setdefault(CHECKPOINT_KEY, {})["mlflow_run_id"] = loggers[0].run_id
