"""`safelight` command line: LightningCLI over SafeFineTuner and SafetyDataModule.

    safelight fit --config configs/quickstart.yaml
    safelight fit --config configs/quickstart.yaml --trainer configs/trainer/ddp.yaml
    safelight test --config configs/quickstart.yaml --ckpt_path <checkpoint>

After `fit` the held-out evaluation runs on the fine-tuned weights (skip: --evaluate_after_fit false).
Other tools: `safelight probe ...` (activation probes), `safelight compare ...` (MLflow tables and
plots), `safelight sweep ...` (method x scenario x seed grids), `safelight export ...` (plain HF model).
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from safelight.callbacks.finite_loss import FiniteLossGuard
from safelight.data.datamodule import SafetyDataModule
from safelight.errors import check_config_files, run_cleanly
from safelight.module import SafeFineTuner
from safelight.resume import CHECKPOINT_KEY, MLflowRunRecord, ResumableCheckpoint, checkpoint_dir, prepare_resume
from safelight.rng_state import RngStateRecord
from safelight.tracking import DEFAULT_ARTIFACT_LOCATION, DEFAULT_TRACKING_URI, MLflowConfigArtifact, ensure_local_store

DEFAULT_LOGGER: dict[str, Any] = {
    "class_path": "lightning.pytorch.loggers.MLFlowLogger",
    "init_args": {
        "experiment_name": "safelight",
        "tracking_uri": DEFAULT_TRACKING_URI,
        "artifact_location": DEFAULT_ARTIFACT_LOCATION,
        "log_model": False,
    },
}


class SafelightCLI(LightningCLI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parser_kwargs", {"parser_mode": "omegaconf"})
        kwargs.setdefault("save_config_callback", MLflowConfigArtifact)
        kwargs.setdefault("save_config_kwargs", {"save_to_log_dir": False})
        kwargs.setdefault("trainer_defaults", {"logger": DEFAULT_LOGGER})
        # The optimizer is the module's own typed argument (model.optimizer), not a second top-level one.
        kwargs.setdefault("auto_configure_optimizers", False)
        super().__init__(SafeFineTuner, SafetyDataModule, *args, **kwargs)

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--evaluate_after_fit", type=bool, default=True,
                            help="Run the held-out safety/utility evaluation once fit ends.")
        parser.add_argument("--checkpoint_every_n_train_steps", type=int | None, default=None,
                            help="Also write checkpoints/<experiment>/<config digest>/last.ckpt every N optimizer "
                                 "steps (it is always written at each epoch end); resume with --ckpt_path last.")

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        for logger in _as_list(config.get("trainer", {}).get("logger")):
            uri = _init_arg(logger, "tracking_uri")
            if isinstance(uri, str):
                ensure_local_store(uri)
        self.resumed_from: Path | None = None
        if self.subcommand == "fit":
            if config.get("weights_only") is None:
                config.weights_only = True  # a checkpoint never runs pickled code (torch.load weights_only)
            self.checkpoint_dir = checkpoint_dir(config)  # before prepare_resume sets the logger's run_id
            self.resumed_from = prepare_resume(config, self.checkpoint_dir)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        trainer_config = config.get("trainer", {})
        if self.subcommand == "fit":
            extra = [FiniteLossGuard(), MLflowRunRecord(None if self.resumed_from is None else str(self.resumed_from)),
                     RngStateRecord(CHECKPOINT_KEY)]
            configured = _as_list(self._get(self.config_init, "trainer", default={}).get("callbacks"))
            if trainer_config.get("enable_checkpointing") is not False and not any(
                    isinstance(c, ModelCheckpoint) for c in configured):
                # A fixed, config-specific place, so `--ckpt_path last` finds this command's checkpoint.
                extra.append(ResumableCheckpoint(self.checkpoint_dir, config.get("checkpoint_every_n_train_steps")))
            kwargs["callbacks"] = configured + extra
        return super().instantiate_trainer(**kwargs)

    def after_fit(self) -> None:
        config = self.config.get("fit", self.config)
        if not config.get("evaluate_after_fit", True) or self.trainer.fast_dev_run:
            return
        if getattr(self.model, "evaluator", None) is None or self.trainer.interrupted:
            return
        self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)
        if self.trainer.is_global_zero:
            print(before_after_table(self.trainer.callback_metrics))


def before_after_table(metrics: dict[str, Any]) -> str:
    """A compact before (reference) / after (fine-tuned policy) view of the evaluation."""
    from safelight.eval.metrics import SAFETY_METRICS

    lines = ["", "| metric | before fine-tuning | after fine-tuning |", "|---|---:|---:|"]
    for name in SAFETY_METRICS:
        after, before = metrics.get(f"eval/{name}"), metrics.get(f"eval_reference/{name}")
        if after is None and before is None:
            continue
        fmt = lambda v: "-" if v is None else f"{float(v):.3f}"  # noqa: E731
        lines.append(f"| {name} | {fmt(before)} | {fmt(after)} |")
    return "\n".join(lines)


def _as_list(value: Any) -> list[Any]:
    if value is None or value is False or value is True:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _init_arg(spec: Any, name: str) -> Any:
    init_args = spec.get("init_args") if hasattr(spec, "get") else getattr(spec, "init_args", None)
    if init_args is None:
        return None
    return init_args.get(name) if hasattr(init_args, "get") else getattr(init_args, name, None)


#: `safelight <tool> ...` commands that are not Lightning subcommands: module path of their `main(argv)`.
TOOLS: dict[str, str] = {
    "probe": "safelight.probes.cli",
    "compare": "safelight.compare.cli",
    "sweep": "safelight.compare.sweep",
    "export": "safelight.models.export",
}


def quiet_expected_warnings() -> None:
    """Silence two warnings that are expected here and only alarm users."""
    # The frozen reference is in eval mode on purpose (no dropout in pi_ref).
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
    # Lightning's own use of a deprecated torch pytree API, not ours to fix.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def main(args: Any = None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_expected_warnings()
    argv = list(sys.argv[1:] if args is None else args) if not isinstance(args, dict) else None
    if argv and argv[0] in TOOLS:
        importlib.import_module(TOOLS[argv[0]]).main(argv[1:])
        return
    if argv is not None:
        run_cleanly(lambda: check_config_files(argv))
    # Errors in the arguments raise (not print usage and exit), so they are reported as one paragraph.
    run_cleanly(lambda: SafelightCLI(args=args, parser_kwargs={"parser_mode": "omegaconf", "exit_on_error": False}))


if __name__ == "__main__":
    main()
