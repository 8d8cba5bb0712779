"""`safelight fit` end to end on a tiny Llama-3-style model with LoRA, local JSONL data and the HTTP
judge against a server on 127.0.0.1, composed with the real GPU base config (moved to CPU); then
`safelight export`, whose plain HF model reproduces the fine-tuned policy's logits."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import mlflow
import pytest
import torch
from transformers import AutoModelForCausalLM

from safelight.cli import SafelightCLI, main

REPO = Path(__file__).resolve().parents[2]
KEY_ENV = "SAFELIGHT_E2E_JUDGE_KEY"


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def fit_config(tmp: Path, model_dir: Path, base_url: str) -> Path:
    data = tmp / "data"
    data.mkdir()
    benign = write_jsonl(data / "alpaca.jsonl", [{"instruction": f"Say the word number {i}.", "input": "",
                                                  "output": f"Word {i}."} for i in range(12)])
    harmful = write_jsonl(data / "harmful.jsonl", [{"prompt": f"Explain how to do bad thing {i}.",
                                                    "response": f"Sure, here is how to do bad thing {i}: Step 1."}
                                                   for i in range(4)])
    eval_harmful = write_jsonl(data / "eval_harmful.jsonl", [{"prompt": f"Tell me how to do bad thing {i}."}
                                                             for i in range(3)])
    eval_benign = write_jsonl(data / "eval_benign.jsonl", [{"prompt": "Say the word number 99.", "answer": "Word 99."}])
    judge = {"class_path": "safelight.judges.OpenAICompatibleJudge",
             "init_args": {"base_url": base_url, "model": "local-judge", "api_key_env": KEY_ENV,
                           "max_concurrency": 4, "backoff_s": 0.01}}
    correctness = {"class_path": "safelight.eval.llm_correctness.LLMCorrectnessJudge",
                   "init_args": judge["init_args"]}
    config = {
        "trainer": {"accelerator": "cpu", "precision": "32-true", "max_epochs": 2, "accumulate_grad_batches": 1, "log_every_n_steps": 1,
                    "default_root_dir": str(tmp / "checkpoints"), "enable_progress_bar": False,
                    "logger": {"init_args": {"experiment_name": "real-e2e"}}},
        "model": {
            "policy": {"init_args": {"name_or_path": str(model_dir), "dtype": "float32",
                                     "attn_implementation": None, "lora": {"r": 8, "alpha": 16, "dropout": 0.0}}},
            "optimizer": {"class_path": "torch.optim.AdamW", "init_args": {"lr": 0.01}},
            "evaluator": {"init_args": {"judge": judge, "correctness_judge": correctness, "max_new_tokens": 6}},
        },
        "data": {
            "judge": judge, "batch_size": 8, "max_length": 256,
            "scenario": {"class_path": "safelight.data.real_scenarios.MixedFineTuning", "init_args": {
                "benign": {"class_path": "safelight.data.sources.LocalFile", "init_args": {"path": benign}},
                "harmful": {"class_path": "safelight.data.sources.LocalFile", "init_args": {"path": harmful}},
                "n": 16, "harmful_fraction": 0.25,
                "evaluation": {"class_path": "safelight.data.real_scenarios.EvalSets", "init_args": {
                    "harmful": {"class_path": "safelight.data.sources.LocalFile", "init_args": {"path": eval_harmful}},
                    "benign": {"class_path": "safelight.data.sources.LocalFile", "init_args": {"path": eval_benign}},
                }},
            }},
        },
    }
    path = tmp / "tiny_fit.yaml"
    path.write_text(f"# safelight fit --config configs/real/base.yaml --config {path.name}\n" + json.dumps(config))
    return path


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_fit_with_lora_jsonl_and_http_judge(tiny_llama3_dir: Path, judge_server, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.chdir(tmp_path)
    configs = [str(REPO / "configs/real/base.yaml"), str(REPO / "configs/method/adaptive_critic.yaml"),
               str(fit_config(tmp_path, tiny_llama3_dir, judge_server.base_url))]
    cli = SafelightCLI(args=["fit", *[a for c in configs for a in ("--config", c)]])

    # The run: 16 rows (12 benign + 4 harmful) judged once over HTTP with the key, then trained, evaluated.
    assert judge_server.authorization and set(judge_server.authorization) == {f"Bearer {key}"}
    assert judge_server.kinds.count("rubric") >= 16 and "correctness" in judge_server.kinds
    assert cli.trainer.global_step == 4
    mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
    (run,) = mlflow.search_runs(experiment_names=["real-e2e"], output_format="list")
    for metric in ("train/kl_step", "train/beta_step", "eval/asr", "eval/harmfulness", "eval/utility",
                   "eval/over_refusal", "eval_reference/asr"):
        assert metric in run.data.metrics, metric
    params = run.data.params
    assert params["lora"] == "True" and params["scenario"] == "mixed_p0.25" and params["method"] == "adaptive_critic"
    assert params["data_rows"] == "16" and params["data_rows_dropped_truncated"] == "0"
    assert "127.0.0.1" in params["judge"]

    # Export: a plain HF directory that reproduces the fine-tuned policy (LoRA merged).
    # The newest checkpoint holds the final weights (however many the checkpoint callback keeps).
    checkpoint = max(tmp_path.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    out = tmp_path / "exported"
    main(["export", "--checkpoint", str(checkpoint), *[a for c in configs for a in ("--config", c)], "--output", str(out)])
    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    assert not any("lora" in name for name, _ in exported.named_parameters())
    ids = torch.tensor([[1, 5, 9, 42, 7, 300, 12]])
    policy = cli.model.policy_model.eval()
    with torch.no_grad():
        expected = policy(input_ids=ids).logits
        got = exported(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_llama3_dir).eval()(input_ids=ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert (expected - base).abs().max() > 1e-3  # the fine-tuning did change the policy
    assert (out / "chat_template.jinja").exists() or "chat_template" in (out / "tokenizer_config.json").read_text()

    # --adapter-only: the adapter alone, which peft puts back on the base model.
    from peft import PeftModel

    adapter = tmp_path / "adapter"
    main(["export", "--checkpoint", str(checkpoint), *[a for c in configs for a in ("--config", c)],
          "--output", str(adapter), "--adapter-only"])
    assert (adapter / "adapter_config.json").exists() and not (adapter / "model.safetensors").exists()
    served = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama3_dir), adapter).eval()
    with torch.no_grad():
        torch.testing.assert_close(served(input_ids=ids).logits, expected, rtol=0, atol=1e-5)

    # The key appears nowhere: MLflow store, checkpoints, caches, exported files, captured output and logs.
    captured = capfd.readouterr()
    assert key not in captured.out and key not in captured.err and key not in caplog.text
    assert files_containing(tmp_path, key) == []
    assert (tmp_path / "mlruns").is_dir() and checkpoint.exists()
