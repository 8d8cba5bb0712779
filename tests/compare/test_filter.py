"""Judge filtering baseline: SafetyDataModule(filter_risk_at=...) drops rows whose judge risk reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from safelight.data.datamodule import SafetyDataModule
from safelight.data.toy_scenario import ToyScenario
from safelight.toy.judge import ToyJudge
from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.world import ToyWorld


def built(tmp_path: Path, scenario: ToyScenario, filter_risk_at: float | None) -> SafetyDataModule:
    dm = SafetyDataModule(scenario, judge=ToyJudge(), cache_dir=str(tmp_path / "cache"), batch_size=8,
                          filter_risk_at=filter_risk_at)
    dm.tokenizer = build_toy_tokenizer(ToyWorld(0))
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_filter_drops_exactly_the_harmful_rows_of_a_mixed_set(tmp_path: Path) -> None:
    dm = built(tmp_path, ToyScenario("mixed", n=40, harmful_fraction=0.1), filter_risk_at=0.75)
    assert dm.stats["data/rows_dropped_filter"] == 4
    assert dm.stats["data/rows_trained"] == 36
    assert dm.train_dataset is not None and max(dm.train_dataset["risk"]) < 0.75


def test_without_filter_nothing_is_dropped(tmp_path: Path) -> None:
    dm = built(tmp_path, ToyScenario("mixed", n=40, harmful_fraction=0.1), filter_risk_at=None)
    assert "data/rows_dropped_filter" not in dm.stats
    assert dm.stats["data/rows_trained"] == 40


def test_filtering_everything_leaves_an_empty_set_not_an_error(tmp_path: Path) -> None:
    dm = built(tmp_path, ToyScenario("harmful", n=12), filter_risk_at=0.75)
    assert dm.stats["data/rows_dropped_filter"] == 12
    assert dm.train_dataset is not None and len(dm.train_dataset) == 0
    assert len(dm.train_dataloader()) == 0


def test_filter_needs_a_judge() -> None:
    with pytest.raises(ValueError, match="filter_risk_at needs data.judge"):
        SafetyDataModule(ToyScenario("harmful", n=4), judge=None, filter_risk_at=0.75)
