"""The cells of a sweep: methods x scenarios x variants x seeds x learning rates, each a `safelight fit`.

A cell's key hashes everything that defines it (its arguments, the experiment, and the *contents*
of the config files it names), so a resumed sweep recognises finished cells in MLflow by the
`sweep.cell` tag, and a changed grid or an edited config file (say, more epochs or another learning
rate) reruns rather than silently reusing stale results.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Tags every sweep cell's MLflow run carries (compare reads them; resume matches on `sweep.cell`).
TAG = "sweep."


@dataclass
class Variant:
    """An extra axis value, e.g. a noisy judge: fit arguments plus tags that describe it (`judge_recall`)."""

    args: list[str] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cell:
    method: str
    scenario: str
    seed: int
    lr: float | None
    variant: str
    args: list[str]
    extra_tags: dict[str, str]
    key: str = ""

    @property
    def label(self) -> str:
        parts = [self.method, self.scenario] + ([self.variant] if self.variant else []) + \
            ([f"lr{self.lr:g}"] if self.lr is not None else []) + [f"s{self.seed}"]
        return "/".join(parts)

    def tags(self, sweep_name: str) -> dict[str, str]:
        tags = {"name": sweep_name, "cell": self.key, "method": self.method, "scenario": self.scenario,
                "seed": str(self.seed), "variant": self.variant, "lr": "" if self.lr is None else f"{self.lr:g}"}
        tags.update(self.extra_tags)
        return {TAG + k: v for k, v in tags.items()}


def expand(items: list[str]) -> list[str]:
    """Config files become `--config FILE`; anything else is passed through as a CLI argument."""
    out: list[str] = []
    for item in items:
        out.extend(["--config", item] if item.endswith((".yaml", ".yml")) else [item])
    return out


def config_fingerprint(args: list[str]) -> list[str]:
    """The SHA-256 of each config file the arguments name (`--config FILE`), in order; a file that
    does not exist (yet) hashes as missing, and `safelight fit` will say so when the cell runs."""
    files = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--config"]
    return [hashlib.sha256(Path(f).read_bytes()).hexdigest() if Path(f).is_file() else "missing" for f in files]


def build_cells(
    experiment: str,
    base: list[str],
    methods: dict[str, list[str]],
    scenarios: dict[str, list[str]],
    seeds: list[int],
    lrs: list[float] | None = None,
    variants: dict[str, Variant] | None = None,
    cell_args: list[str] | None = None,
) -> list[Cell]:
    """Cells in run order: seed-major, so an interrupted sweep already has seed 0 of everything."""
    variants = variants or {"": Variant()}
    cells: list[Cell] = []
    for seed, scenario, method, (vname, variant), lr in itertools.product(
        seeds, scenarios, methods, variants.items(), lrs or [None]
    ):
        # Order matters: the method config comes after the scenario's, so a method may adjust the
        # scenario (mixing adds refusal rows to whatever scenario is in use).
        args = expand(base) + expand(scenarios[scenario]) + expand(methods[method]) + expand(variant.args)
        args += [f"--seed_everything={seed}", f"--data.seed={seed}"]
        if lr is not None:
            args.append(f"--model.optimizer.init_args.lr={lr}")
        args += list(cell_args or [])
        cell = Cell(method, scenario, seed, lr, vname, args, {k: str(v) for k, v in variant.tags.items()})
        identity = [experiment, cell.label, args, config_fingerprint(args)]
        cell.key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]
        cells.append(cell)
    return cells
