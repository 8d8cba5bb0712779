"""User-facing errors of the `safelight` command: one paragraph naming the field, file or row, not a
traceback. Set SAFELIGHT_TRACEBACK=1 to get the traceback as well.

Only errors that describe the user's input or environment are shortened here; anything else is a
bug and keeps its full traceback.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Callable, Sequence

import yaml

#: Options whose value is a YAML file (LightningCLI's `--config` and the per-group `--trainer x.yaml`).
CONFIG_FILE_OPTIONS = ("--config", "-c", "--trainer", "--model", "--data")
EXIT_USAGE = 2  # argparse's code for bad arguments
EXIT_ERROR = 1


class ConfigFileError(ValueError):
    """A config file that cannot be read or is not valid YAML."""


def _config_files(argv: Sequence[str]) -> list[str]:
    files: list[str] = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if name in CONFIG_FILE_OPTIONS:
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            # A value without a config suffix may be an inline YAML string: jsonargparse handles that.
            if value.endswith((".yaml", ".yml", ".json")):
                files.append(value)
    return files


def check_config_files(argv: Sequence[str]) -> None:
    """Parse every config file before LightningCLI does, so an error names the file and line
    (jsonargparse reports a YAML error as coming from "<unicode string>")."""
    for name in _config_files(argv):
        path = Path(name)
        if not path.is_file():
            raise ConfigFileError(f"config file {name!r} does not exist")
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise ConfigFileError(f"config file {name!r} is not valid YAML{where}: {problem}") from error
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigFileError(f"config file {name!r} cannot be read: {error}") from error


def user_error_types() -> tuple[type[BaseException], ...]:
    """Imported lazily: the command must start even if an optional part fails to import."""
    from jsonargparse import ArgumentError

    from safelight.callbacks.finite_loss import NonFiniteLossError
    from safelight.data.chat import ChatTemplateError
    from safelight.data.datamodule import NoTrainableRowsError
    from safelight.data.risk import MissingJudgeScoresError
    from safelight.data.rows import RowError
    from safelight.data.sources import DataSourceError
    from safelight.judges.http_judge import JudgeConfigurationError
    from safelight.judges.scoring import JudgeScoringError
    from safelight.models.reference import ReferenceConfigError
    from safelight.models.validation import PolicyConfigError
    from safelight.objective.weights import UnknownRiskError
    from safelight.probes.artifact import ProbeMismatchError, ProbeNotFoundError

    return (ArgumentError, ConfigFileError, NonFiniteLossError, ChatTemplateError, NoTrainableRowsError,
            MissingJudgeScoresError, RowError, DataSourceError, JudgeConfigurationError, JudgeScoringError,
            ReferenceConfigError, PolicyConfigError, UnknownRiskError, ProbeMismatchError, ProbeNotFoundError,
            pickle.UnpicklingError)


def one_paragraph(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, pickle.UnpicklingError):
        text = ("the checkpoint holds pickled objects other than tensors and plain values, so it is "
                "refused (weights_only loading). Load only checkpoints you trust; details: " + text[:300])
    return f"error ({type(error).__name__}): {text}"


def run_cleanly(command: Callable[[], None]) -> None:
    """Run `command`; a user error prints one paragraph to stderr and exits non-zero."""
    show_traceback = os.environ.get("SAFELIGHT_TRACEBACK", "") not in ("", "0")
    try:
        command()
    except user_error_types() as error:
        if show_traceback:
            raise
        from jsonargparse import ArgumentError

        print(one_paragraph(error), file=sys.stderr)
        code = EXIT_USAGE if isinstance(error, (ArgumentError, ConfigFileError)) else EXIT_ERROR
        raise SystemExit(code) from None
