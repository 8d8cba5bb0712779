"""SafetyDataModule: exact scenario counts, judge scores cached once, risk served per row, bad rows named."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pytest
import torch

from safelight.data.datamodule import NoTrainableRowsError, SafetyDataModule
from safelight.data.rows import RowError
from safelight.data.scenario import Row, Scenario
from safelight.data.toy_scenario import ToyScenario
from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.toy.judge import ToyJudge
from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.world import ToyWorld


class CountingJudge(Judge):
    """The toy judge, counting the items it is asked to score (instrumentation for the cache test)."""

    def __init__(self) -> None:
        self.inner = ToyJudge()
        self.calls = 0

    @property
    def identity(self) -> str:
        return self.inner.identity

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        self.calls += len(items)
        return self.inner.score(items)


class ListScenario(Scenario):
    name = "list"

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def train_rows(self) -> list[Row]:
        return self.rows

    def eval_rows(self) -> dict[str, list[Row]]:
        return {}


@pytest.fixture()
def tokenizer():
    return build_toy_tokenizer(ToyWorld(0))


def make_dm(tmp_path: Path, scenario: Scenario, judge: Judge | None, tokenizer, **kwargs) -> SafetyDataModule:
    dm = SafetyDataModule(scenario, judge=judge, cache_dir=str(tmp_path / "cache"), batch_size=8, **kwargs)
    dm.tokenizer = tokenizer
    return dm


def test_mixed_scenario_has_exact_counts() -> None:
    rows = ToyScenario("mixed", n=40, harmful_fraction=0.1).train_rows()
    assert len(rows) == 40
    assert sum(r["kind"] == "harmful" for r in rows) == 4
    assert sum(r["kind"] == "task" for r in rows) == 36


def test_second_run_makes_no_judge_calls_and_risk_follows_scores(tmp_path: Path, tokenizer) -> None:
    scenario = ToyScenario("mixed", n=40, harmful_fraction=0.1)
    first = CountingJudge()
    make_dm(tmp_path, scenario, first, tokenizer).prepare_data()
    assert first.calls == 40
    second = CountingJudge()
    dm = make_dm(tmp_path, scenario, second, tokenizer)
    dm.prepare_data()
    dm.setup("fit")
    assert second.calls == 0
    risks = {kind: set() for kind in ("harmful", "task")}
    rows = scenario.train_rows()
    for row, risk in zip(rows, dm.train_dataset["risk"]):
        risks[row["kind"]].add(risk)
    assert risks == {"harmful": {1.0}, "task": {0.0}}
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) >= {"input_ids", "attention_mask", "labels", "prompt_lengths", "risk", "window_response_tokens"}
    assert batch["risk"].dtype == torch.float32 and not torch.isnan(batch["risk"]).any()


def test_without_a_judge_risk_is_nan_until_an_estimator_fills_it(tmp_path: Path, tokenizer) -> None:
    dm = make_dm(tmp_path, ToyScenario("harmful", n=8), None, tokenizer)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert torch.isnan(batch["risk"]).all()


def test_empty_assistant_turn_is_named(tmp_path: Path, tokenizer) -> None:
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]}]
    dm = make_dm(tmp_path, ListScenario(rows), None, tokenizer)
    with pytest.raises(RowError, match=r"training row 1 \(prompt 'hi'\): the assistant turn is empty"):
        dm.setup("fit")


def test_missing_field_is_named(tmp_path: Path, tokenizer) -> None:
    rows = [{"prompt": "hi", "response": "hello"}]
    dm = make_dm(tmp_path, ListScenario(rows), None, tokenizer)
    with pytest.raises(RowError, match="training row 0.*missing required field 'messages'"):
        dm.setup("fit")


def test_rows_truncated_to_nothing_are_dropped_and_counted(tmp_path: Path, tokenizer) -> None:
    long_prompt = " ".join(["red"] * 40)
    rows = [{"messages": [{"role": "user", "content": long_prompt}, {"role": "assistant", "content": "red"}]},
            {"messages": [{"role": "user", "content": "red"}, {"role": "assistant", "content": "red"}]}]
    dm = make_dm(tmp_path, ListScenario(rows), None, tokenizer, max_length=16)
    dm.setup("fit")
    assert dm.stats["data/rows_dropped_truncated"] == 1 and dm.stats["data/rows_trained"] == 1
    dm_all = make_dm(tmp_path, ListScenario(rows[:1]), None, tokenizer, max_length=16)
    with pytest.raises(NoTrainableRowsError, match="max_length=16"):
        dm_all.setup("fit")


def test_eval_rows_are_grouped_for_utility(tmp_path: Path, tokenizer) -> None:
    dm = make_dm(tmp_path, ToyScenario("harmful", n=8), None, tokenizer)
    dm.setup("test")
    groups = {(r["kind"], r["utility_group"]) for r in dm.test_rows}
    assert groups == {("harmful", None), ("benign", "alignment"), ("benign", "task")}
