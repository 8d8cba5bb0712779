"""The cross-source test is reported per (harmful, benign) source pair as well as pooled: a benign
source that looks like harm to the probe shows up in its own pair instead of being averaged away."""

from __future__ import annotations

import torch

from safelight.probes.prompts import LabelledPrompt, user_prompt
from safelight.probes.report import flat_metrics, pairs_table
from safelight.probes.splits import make_splits
from safelight.probes.train import run_experiment, source_pairs

HIDDEN = 8


def _source(name: str, label: int, centre: float, n: int, gen: torch.Generator) -> tuple[list[LabelledPrompt], torch.Tensor]:
    """n prompts whose features sit around `centre` on the first axis (the 'harm' direction)."""
    rows = [user_prompt(f"{name} prompt {i}", name, label) for i in range(n)]
    x = torch.randn(n, 1, HIDDEN, generator=gen) * 0.3
    x[:, 0, 0] += centre
    return rows, x


def test_pairs_separate_a_harm_like_benign_source_from_an_easy_one() -> None:
    gen = torch.Generator().manual_seed(0)
    parts = [_source("train_harm", 1, 2.0, 60, gen), _source("train_benign", 0, -2.0, 60, gen),
             _source("val_harm", 1, 2.0, 30, gen), _source("val_benign", 0, -2.0, 30, gen),
             _source("test_harm", 1, 2.0, 40, gen),
             _source("test_benign_easy", 0, -2.0, 40, gen),    # far from harm: AUROC ~1
             _source("test_benign_harmlike", 0, 2.0, 40, gen)]  # where harm is: AUROC ~0.5
    prompts = [r for rows, _ in parts for r in rows]
    features = torch.cat([x for _, x in parts])
    splits = make_splits(prompts, ["train_harm", "train_benign"], ["val_harm", "val_benign"],
                         ["test_harm", "test_benign_easy", "test_benign_harmlike"])

    exp = run_experiment(prompts, features, [1], splits, l2_grid=[0.01])

    pairs = exp.best.pairs
    assert set(pairs) == {"test_harm vs test_benign_easy", "test_harm vs test_benign_harmlike"}
    assert pairs["test_harm vs test_benign_easy"]["auroc"] > 0.99
    assert 0.3 < pairs["test_harm vs test_benign_harmlike"]["auroc"] < 0.7
    assert pairs["test_harm vs test_benign_easy"]["n"] == 80
    pooled = exp.best.metrics["cross"]["auroc"]
    assert pairs["test_harm vs test_benign_harmlike"]["auroc"] < pooled < pairs["test_harm vs test_benign_easy"]["auroc"]
    assert set(exp.lexical.pairs) == set(pairs)
    flat = flat_metrics(exp)
    assert flat["probe/cross_pair/test_harm_vs_test_benign_easy_auroc"] == pairs["test_harm vs test_benign_easy"]["auroc"]
    assert "probe/lexical_cross_pair/test_harm_vs_test_benign_harmlike_auroc" in flat
    table = pairs_table(exp)
    assert "test_harm vs test_benign_harmlike AUROC" in table and "lexical baseline" in table


def test_a_single_pair_adds_no_breakdown() -> None:
    labels = torch.tensor([1, 1, 0, 0])
    assert source_pairs(["h", "h", "b", "b"], labels) == {}
    masks = source_pairs(["h", "h", "b", "c"], labels)
    assert {k: v.tolist() for k, v in masks.items()} == {"h vs b": [True, True, True, False],
                                                        "h vs c": [True, True, False, True]}
