"""Judge faults during the one-off score precompute: the endpoint goes down half way, answers are
garbage; scored items stay cached, a rerun sends only the rest, and the failure policy's counts
reach the MLflow params. (429 / 5xx / timeouts / dropped connections / Retry-After: the HTTP
judge's own tests in tests/judges/test_judge_http.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import pytest

from safelight.data.datamodule import SafetyDataModule
from safelight.data.scenario import Row, Scenario
from safelight.data.toy_scenario import ToyScenario
from safelight.judges import OpenAICompatibleJudge
from safelight.judges.base import JudgeItem, JudgeVerdict
from safelight.judges.scoring import JudgeScoringError
from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.world import ToyWorld
from safelight.tracking import run_params

from .judge_server import GARBAGE_MARKER, JudgeEndpoint

N, BATCH = 24, 4


def http_judge(server: JudgeEndpoint) -> OpenAICompatibleJudge:
    return OpenAICompatibleJudge(server.base_url, model="judge", api_key_env=None, max_concurrency=2,
                                 timeout_s=5, max_retries=2, backoff_s=0.01)


def datamodule(tmp_path: Path, judge: OpenAICompatibleJudge, scenario: Scenario | None = None,
               failure_policy: Any = "raise") -> SafetyDataModule:
    dm = SafetyDataModule(scenario or ToyScenario(kind="harmful", n=N), judge=judge, cache_dir=str(tmp_path / "cache"),
                          judge_batch_size=BATCH, failure_policy=failure_policy, max_length=128)
    dm.tokenizer = build_toy_tokenizer(ToyWorld(0))
    return dm


def params_of(dm: SafetyDataModule) -> dict[str, Any]:
    dm.setup("fit")
    return run_params(SimpleNamespace(datamodule=dm), object(), seed=0)  # type: ignore[arg-type]


def test_precompute_interrupted_by_endpoint_going_down_resumes_with_nothing_rescored(tmp_path: Path) -> None:
    server = JudgeEndpoint()
    port = server.port
    judge = http_judge(server)
    real_score = judge.score
    batches = 0

    def score_then_go_down(items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        nonlocal batches
        batches += 1
        if batches == 3:
            server.stop()  # the endpoint dies after two batches were scored (and cached)
        return real_score(items)

    judge.score = score_then_go_down  # type: ignore[method-assign]
    with pytest.raises(JudgeScoringError, match=f"{N - 2 * BATCH} of {N} items") as error:
        datamodule(tmp_path, judge).prepare_data()
    assert "cached" in str(error.value) and "connection error" in str(error.value)
    scored_before = set(server.judged)
    assert len(scored_before) == 2 * BATCH
    assert judge.stats.connection_errors == (N - 2 * BATCH) * 3  # 1 try + 2 retries each, then NaN

    # The endpoint is back (same URL, so the same judge identity and cache file): only the rest is sent.
    back = JudgeEndpoint(port)
    try:
        dm = datamodule(tmp_path, http_judge(back))
        dm.prepare_data()
        assert back.requests == N - 2 * BATCH and not scored_before & set(back.judged)
        assert dm.judge_precompute == {"judge_items": N, "judge_cached": 2 * BATCH, "judge_calls": N - 2 * BATCH,
                                       "judge_failed": 0}
        params = params_of(dm)
        assert params["judge_failure_policy"] == "raise" and params["data_rows_judge_failed"] == 0
        assert params["judge_cached"] == 2 * BATCH and params["judge_calls"] == N - 2 * BATCH
        assert params["judge_requests"] == N - 2 * BATCH and params["judge_retries"] == 0

        again = datamodule(tmp_path, http_judge(back))
        again.prepare_data()
        assert back.requests == N - 2 * BATCH and again.judge_precompute["judge_calls"] == 0  # all cached
    finally:
        back.stop()


class GarbageScenario(Scenario):
    """Toy harmful rows; the judge answers garbage (no score) for every fourth."""

    name = "garbage"

    def train_rows(self) -> list[Row]:
        rows = ToyScenario(kind="harmful", n=12).train_rows()
        for row in rows[::4]:
            row["messages"][-1]["content"] += f" {GARBAGE_MARKER}"
        return rows

    def eval_rows(self) -> dict[str, list[Row]]:
        return {}


@pytest.mark.parametrize("policy", ["drop", "max_risk"])
def test_garbage_answers_follow_the_failure_policy_and_are_counted(tmp_path: Path, policy: str) -> None:
    server = JudgeEndpoint()
    try:
        dm = datamodule(tmp_path, http_judge(server), GarbageScenario(), failure_policy=policy)
        dm.prepare_data()
        params = params_of(dm)
    finally:
        server.stop()
    assert params["judge_failure_policy"] == policy
    assert params["judge_failed"] == 3 and params["data_rows_judge_failed"] == 3
    assert params["judge_unparsable"] == 3 * 3  # each retried twice before it counts as failed
    assert dm.train_dataset is not None
    risks = list(dm.train_dataset["risk"])
    if policy == "drop":
        assert params["data_rows_dropped_judge_failed"] == 3 and len(risks) == 9
    else:
        assert params["data_rows_max_risk_judge_failed"] == 3 and len(risks) == 12
        assert [risks[i] for i in (0, 4, 8)] == [1.0] * 3  # the garbage-scored rows count as maximally harmful
