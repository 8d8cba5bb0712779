"""A scenario: the fine-tuning set (what the attacker or user trains on) and the held-out prompts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

Row = dict[str, Any]


class Scenario(ABC):
    """Produces training rows and evaluation rows in the schema of `safelight.data.rows`.

    `eval_rows` returns groups: `harmful` (held-out harmful prompts), and utility groups such as
    `alignment` (skills the reference already had) and `task` (the fine-tuning task).
    """

    #: Logged as the MLflow `scenario` param.
    name: str = "scenario"

    @abstractmethod
    def train_rows(self) -> list[Row]: ...

    @abstractmethod
    def eval_rows(self) -> dict[str, list[Row]]: ...


SCENARIO_KEY = "data.init_args.scenario.init_args"


def check_mix_arguments(n: int, harmful_fraction: float) -> None:
    """Validate a scenario's size and harmful share, naming the config keys."""
    if n < 1:
        raise ValueError(f"{SCENARIO_KEY}.n must be >= 1, got {n}")
    if not 0.0 <= harmful_fraction <= 1.0:
        raise ValueError(f"{SCENARIO_KEY}.harmful_fraction must lie in [0, 1], got {harmful_fraction}")
