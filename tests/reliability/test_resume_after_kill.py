"""kill -9 during `safelight fit`, then the same command with `--ckpt_path last`: the run continues
from the last checkpoint (mid-epoch), in the same MLflow run, and ends exactly where an
uninterrupted run with the same seed ends.

Tolerance: exact (rtol=0, atol=0) for the final weights and for every logged per-step train metric
and every eval metric. On CPU with one thread the same ops run in the same order, and the
resumed loader regenerates the epoch's order (seed, epoch) and skips the batches already trained.
With dropout too (the LoRA case below, dropout 0.2): safelight checkpoints the random streams
(`safelight/rng_state.py`), which Lightning does not, so the resumed run draws the same masks.

The training rows are scored by an HTTP judge whose key comes from the environment: afterwards no
file of the run (MLflow store, checkpoints, judge cache, the two runs' logs) holds the key.
"""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

import pytest
import torch

from .helpers import REPO, files_containing, http_judge_args, metric_history, mlflow_runs, start_safelight, tiny_fit_args
from .judge_server import JudgeEndpoint

EXPERIMENT = "resume"
KEY_ENV = "SAFELIGHT_RELIABILITY_JUDGE_KEY"
STEPS, KILL_AT, EVERY = 14, 10, 4  # 6 batches per epoch: the last checkpoint before the kill is step 8, mid-epoch 1


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("policy_args", [[], ["--model.policy.init_args.lora.r=4", "--model.policy.init_args.lora.dropout=0.2"]],
                         ids=["full", "lora_dropout"])
def test_kill_9_then_ckpt_path_last_matches_an_uninterrupted_run(tiny_model_dir: Path, tmp_path: Path,
                                                                  policy_args: list[str]) -> None:
    judge = JudgeEndpoint()
    try:
        kill_resume_and_compare(tiny_model_dir, tmp_path, judge, policy_args)
    finally:
        judge.stop()


def kill_resume_and_compare(tiny_model_dir: Path, tmp_path: Path, judge: JudgeEndpoint, policy_args: list[str]) -> None:
    key = "sk-reliability-" + secrets.token_hex(16)
    env = {KEY_ENV: key}
    args = tiny_fit_args(tiny_model_dir, EXPERIMENT, f"--checkpoint_every_n_train_steps={EVERY}", *policy_args,
                         *http_judge_args(judge.base_url, KEY_ENV), n=24, steps=STEPS)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    clean.mkdir(), crashed.mkdir()
    reference = start_safelight(args, clean, clean / "fit.log", env=env)
    killed = start_safelight(args, crashed, crashed / "killed.log", env=env,
                             wrapper=[str(REPO / "tests" / "reliability" / "kill_at_step.py"), str(KILL_AT)])
    assert killed.wait(timeout=300) == -signal.SIGKILL, (crashed / "killed.log").read_text()[-3000:]
    (last,) = (crashed / "checkpoints" / EXPERIMENT).glob("*/last.ckpt")
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 8 and saved["epoch"] == 1  # mid-epoch: 2 of its 6 batches trained
    (killed_run,) = mlflow_runs(crashed, EXPERIMENT)
    assert killed_run.info.status == "RUNNING"  # no cleanup ran: SIGKILL

    resumed = start_safelight([*args, "--ckpt_path", "last"], crashed, crashed / "resumed.log", env=env)
    assert resumed.wait(timeout=300) == 0, (crashed / "resumed.log").read_text()[-3000:]
    assert reference.wait(timeout=300) == 0, (clean / "fit.log").read_text()[-3000:]

    # The same MLflow run continued, tagged with the checkpoint it resumed from.
    (run,) = mlflow_runs(crashed, EXPERIMENT)
    assert run.info.run_id == killed_run.info.run_id and run.info.status == "FINISHED"
    assert run.data.tags["safelight.resumed_from"].endswith("last.ckpt")
    (ref_run,) = mlflow_runs(clean, EXPERIMENT)

    # Final weights: bit-identical. The resumed run wrote to the same folder (one last.ckpt there).
    (ref_last,) = (clean / "checkpoints" / EXPERIMENT).glob("*/last.ckpt")
    assert list((crashed / "checkpoints" / EXPERIMENT).glob("*/*.ckpt")) == [last]
    assert last.parent.name == ref_last.parent.name  # same config digest, same folder name
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == STEPS
    got, expected = _weights(last), _weights(ref_last)
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)

    # Every per-step train metric at every step (the killed steps 9-10 were replayed), and the evaluation.
    step_keys = [k for k in ref_run.data.metrics if k.startswith("train/") and k.endswith("_step")]
    assert step_keys
    for metric in step_keys:
        ref_history = metric_history(clean, ref_run.info.run_id, metric)
        assert len(ref_history) == STEPS
        assert metric_history(crashed, run.info.run_id, metric) == ref_history, metric
    eval_keys = [k for k in ref_run.data.metrics if k.startswith(("eval/", "eval_reference/"))]
    assert eval_keys and {k: run.data.metrics[k] for k in eval_keys} == {k: ref_run.data.metrics[k] for k in eval_keys}

    # The judge was called with the key (once per row and run directory: the resumed run read the
    # cache), and the key is nowhere on disk: MLflow store, checkpoints, judge cache, logs.
    assert set(judge.authorization) == {f"Bearer {key}"} and judge.requests == 2 * 24
    assert (crashed / "mlruns").is_dir() and list((crashed / "judge_cache").glob("*.jsonl"))
    assert files_containing(tmp_path, key) == []
