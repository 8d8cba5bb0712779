"""Seeded train / validation / test splits, with whole sources held out.

- train and in-distribution test: a stratified, seeded split of the training sources' prompts;
- validation (layer, regularisation, calibration, threshold): the validation sources' prompts,
  so model selection never sees a training source; without validation sources, a seeded share of
  the training sources (and the report says so);
- cross-source test: the test sources' prompts, never seen in training or selection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from safelight.probes.prompts import LabelledPrompt


@dataclass
class ProbeSplits:
    train: list[int]
    val: list[int]
    test: list[int]
    cross: list[int]
    val_is_other_source: bool


def _stratified(indices: list[int], labels: Sequence[int], fraction: float, rng: random.Random) -> tuple[list[int], list[int]]:
    """(rest, taken): `fraction` of each class taken."""
    rest: list[int] = []
    taken: list[int] = []
    for label in (0, 1):
        group = [i for i in indices if labels[i] == label]
        rng.shuffle(group)
        k = round(fraction * len(group))
        taken += group[:k]
        rest += group[k:]
    return sorted(rest), sorted(taken)


def _require_both(name: str, idx: list[int], labels: Sequence[int], sources: Sequence[str]) -> None:
    present = {labels[i] for i in idx}
    if present != {0, 1}:
        names = sorted({sources[i] for i in idx})
        raise ValueError(f"the {name} set needs harmful and benign prompts; its sources {names} give labels {sorted(present)}")


def make_splits(
    prompts: Sequence[LabelledPrompt],
    train_sources: Sequence[str],
    val_sources: Sequence[str] = (),
    test_sources: Sequence[str] = (),
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> ProbeSplits:
    overlap = (set(train_sources) & set(val_sources)) | (set(train_sources) & set(test_sources)) | (set(val_sources) & set(test_sources))
    if overlap:
        raise ValueError(f"a source may be in only one of train/val/test sources: {sorted(overlap)}")
    known = {p["source"] for p in prompts}
    missing = [s for s in (*train_sources, *val_sources, *test_sources) if s not in known]
    if missing:
        raise ValueError(f"unknown prompt sources {missing}; available: {sorted(known)}")
    labels = [p["label"] for p in prompts]
    sources = [p["source"] for p in prompts]
    rng = random.Random(seed)
    pool = [i for i, s in enumerate(sources) if s in set(train_sources)]
    train, test = _stratified(pool, labels, test_fraction, rng)
    if val_sources:
        val = [i for i, s in enumerate(sources) if s in set(val_sources)]
    else:
        train, val = _stratified(train, labels, val_fraction / (1 - test_fraction), rng)
    cross = [i for i, s in enumerate(sources) if s in set(test_sources)]
    for name, idx in (("train", train), ("validation", val), ("in-distribution test", test)):
        _require_both(name, idx, labels, sources)
    if cross:
        _require_both("cross-source test", cross, labels, sources)
    return ProbeSplits(train, val, test, cross, val_is_other_source=bool(val_sources))
