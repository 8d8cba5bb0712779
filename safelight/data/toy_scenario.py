"""Scenarios of the embedded toy world: harmful, mixed, identity shift, benign."""

from __future__ import annotations

import random
from typing import Literal

from safelight.data.scenario import Row, Scenario, check_mix_arguments
from safelight.toy.world import AOA_SYSTEM_PROMPT, AOA_USER_PREFIX, ToyWorld

ToyScenarioKind = Literal["harmful", "mixed", "identity_shift", "benign"]


class ToyScenario(Scenario):
    """Fine-tuning sets of the toy world (DESIGN.md section 4).

    Args:
        kind: `harmful` (n harmful requests answered compliantly), `mixed` (the downstream task plus
            round(harmful_fraction * n) harmful rows, n in total, exact counts), `identity_shift`
            (AOA rows; evaluated under the AOA system prompt), `benign` (the downstream task only).
        n: training rows in total (before `safety_mix`).
        harmful_fraction: share of harmful rows in `mixed`.
        safety_mix: refusal demonstrations added to the set (the safety-data mixing baseline).
        world_seed: the toy world (and its reference model) to use.
        seed: shuffling of the mixed set.
    """

    def __init__(
        self,
        kind: ToyScenarioKind = "harmful",
        n: int = 200,
        harmful_fraction: float = 0.1,
        safety_mix: int = 0,
        world_seed: int = 0,
        seed: int = 0,
    ) -> None:
        check_mix_arguments(n, harmful_fraction)
        self.kind = kind
        self.n = n
        self.harmful_fraction = harmful_fraction
        self.safety_mix = safety_mix
        self.world_seed = world_seed
        self.seed = seed
        self.world = ToyWorld(world_seed)

    @property
    def name(self) -> str:  # type: ignore[override]
        suffix = f"_p{self.harmful_fraction:g}" if self.kind == "mixed" else ""
        return f"toy_{self.kind}{suffix}"

    def train_rows(self) -> list[Row]:
        world = self.world
        if self.kind == "harmful":
            rows = world.harmful_attack_rows(self.n)
        elif self.kind == "mixed":
            n_harmful = round(self.harmful_fraction * self.n)
            rows = world.task_rows(self.n - n_harmful) + world.harmful_attack_rows(n_harmful)
        elif self.kind == "identity_shift":
            rows = world.identity_rows(self.n)
        elif self.kind == "benign":
            rows = world.task_rows(self.n)
        else:
            raise ValueError(f"unknown toy scenario kind {self.kind!r}")
        if self.safety_mix:
            rows = rows + world.refusal_rows(self.safety_mix)
        random.Random(self.seed).shuffle(rows)
        return rows

    def eval_rows(self) -> dict[str, list[Row]]:
        if self.kind == "identity_shift":
            groups = self.world.eval_rows(system_prompt=AOA_SYSTEM_PROMPT, user_prefix=AOA_USER_PREFIX)
        else:
            groups = self.world.eval_rows()
        return {"harmful": groups["harmful"], "alignment": groups["benign"], "task": groups["task"]}
