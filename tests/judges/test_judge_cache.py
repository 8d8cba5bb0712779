from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Sequence

import pytest

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.judges.cache import JudgeScoreCache, item_key


class FixedJudge(Judge):
    def __init__(self, name: str = "fixed", rubric_version: str = "hexphi-v1") -> None:
        self.name = name
        self.rubric_version = rubric_version

    @property
    def identity(self) -> str:
        return f"fixed({self.name})"

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        return [JudgeVerdict(float(1 + len(i.response) % 5), raw="fixed") for i in items]


ITEMS = [JudgeItem(f"p{i}", f"r{i}" * i) for i in range(6)]


def test_store_then_lookup_in_a_fresh_instance(tmp_path: Path) -> None:
    judge = FixedJudge()
    verdicts = judge.score(ITEMS)
    verdicts[2] = JudgeVerdict(math.nan, raw="could not score")
    assert JudgeScoreCache(tmp_path).store(judge, ITEMS, verdicts) == 5  # NaN never cached
    found = JudgeScoreCache(tmp_path).lookup(judge, ITEMS)
    assert found[2] is None
    assert [f for i, f in enumerate(found) if i != 2] == [v for i, v in enumerate(verdicts) if i != 2]


def test_keys_separate_judge_rubric_prompt_and_response(tmp_path: Path) -> None:
    item = JudgeItem("ab", "c")
    keys = {
        item_key(FixedJudge(), item),
        item_key(FixedJudge("other"), item),
        item_key(FixedJudge(rubric_version="v2"), item),
        item_key(FixedJudge(), JudgeItem("a", "bc")),
    }
    assert len(keys) == 4
    cache = JudgeScoreCache(tmp_path)
    cache.store(FixedJudge(), [item], [JudgeVerdict(3.0)])
    assert cache.lookup(FixedJudge("other"), [item]) == [None]
    assert cache.lookup(FixedJudge(rubric_version="v2"), [item]) == [None]


def test_reader_sees_appends_of_the_writer(tmp_path: Path) -> None:
    judge, writer, reader = FixedJudge(), JudgeScoreCache(tmp_path), JudgeScoreCache(tmp_path)
    assert reader.lookup(judge, ITEMS[:1]) == [None]
    writer.store(judge, ITEMS[:1], judge.score(ITEMS[:1]))
    assert reader.lookup(judge, ITEMS[:1]) == judge.score(ITEMS[:1])


def test_truncated_last_line_is_skipped_and_later_appends_survive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    judge = FixedJudge()
    cache = JudgeScoreCache(tmp_path)
    cache.store(judge, ITEMS[:3], judge.score(ITEMS[:3]))
    path = cache.path_for(judge)
    with open(path, "ab") as f:  # a crash in the middle of writing a record
        f.write(b'{"key": "abc", "score": 4.0, "ra')
    with caplog.at_level(logging.WARNING):
        found = JudgeScoreCache(tmp_path).lookup(judge, ITEMS)
    assert found[:3] == judge.score(ITEMS[:3]) and found[3:] == [None] * 3
    assert "incomplete last line" in caplog.text

    resumed = JudgeScoreCache(tmp_path)  # the resumed run appends after the broken line
    resumed.store(judge, ITEMS[3:], judge.score(ITEMS[3:]))
    with caplog.at_level(logging.WARNING):
        assert JudgeScoreCache(tmp_path).lookup(judge, ITEMS) == judge.score(ITEMS)
    assert "corrupt line" in caplog.text


def test_garbage_and_out_of_range_lines_are_skipped(tmp_path: Path) -> None:
    judge = FixedJudge()
    cache = JudgeScoreCache(tmp_path)
    cache.store(judge, ITEMS[:1], judge.score(ITEMS[:1]))
    key = item_key(judge, ITEMS[1])
    with open(cache.path_for(judge), "a") as f:
        f.write("not json\n\n" + f'{{"key": "{key}", "score": 9.0}}\n' + '{"score": 1}\n')
    cache.store(judge, ITEMS[2:3], judge.score(ITEMS[2:3]))
    found = JudgeScoreCache(tmp_path).lookup(judge, ITEMS[:3])
    assert found[0] is not None and found[1] is None and found[2] is not None


def test_cache_pickles_to_its_directory(tmp_path: Path) -> None:
    import pickle

    judge = FixedJudge()
    cache = JudgeScoreCache(tmp_path)
    cache.store(judge, ITEMS, judge.score(ITEMS))
    assert pickle.loads(pickle.dumps(cache)).lookup(judge, ITEMS) == judge.score(ITEMS)
