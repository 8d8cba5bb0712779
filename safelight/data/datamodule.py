"""SafetyDataModule: builds a scenario's rows, scores them once with a judge, serves risk per row."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import datasets
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, DistributedSampler

from safelight.data.chat import encode_chat, require_chat_template
from safelight.data.collate import ChatCollator
from safelight.data.risk import FailurePolicy, cached_risks, precompute_scores
from safelight.data.rows import check_eval_row, check_train_row
from safelight.data.scenario import Row, Scenario
from safelight.data.resumable_windows import ResumableWindows
from safelight.judges.base import Judge
from safelight.judges.cache import JudgeScoreCache


class NoTrainableRowsError(ValueError):
    pass


def fingerprint_rows(rows: list[Row]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row["messages"], sort_keys=True).encode())
    return digest.hexdigest()[:16]


class SafetyDataModule(LightningDataModule):
    """Fine-tuning rows with per-example risk, and the held-out evaluation prompts.

    Args:
        scenario: what is fine-tuned on and evaluated (toy world, local files, hub data sets).
        judge: scores each training (prompt, response) on the 1-5 rubric once, before training.
            Leave unset when a `ProbeRiskCallback` provides risk at every step instead.
        cache_dir: where judge scores are cached, keyed by content, judge identity and rubric.
        failure_policy: a row the judge cannot score: `raise` (default), `drop` it, or give it
            `max_risk`. Never scored as safe.
        max_length: rows are truncated to this many tokens; rows left without any response token
            are dropped and counted (`data/rows_dropped_truncated`).
        filter_risk_at: the judge-filtering baseline: rows whose judge risk reaches this value are
            dropped before training and counted (`data/rows_dropped_filter`). Needs `judge`. If every
            row is dropped, the run trains zero steps (the filter did its job), rather than failing.
    """

    def __init__(
        self,
        scenario: Scenario,
        judge: Judge | None = None,
        cache_dir: str = ".safelight_cache/judge_scores",
        failure_policy: FailurePolicy = "raise",
        batch_size: int = 16,
        eval_batch_size: int = 128,
        max_length: int = 512,
        judge_batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        filter_risk_at: float | None = None,
    ) -> None:
        super().__init__()
        if filter_risk_at is not None and judge is None:
            raise ValueError("data.filter_risk_at needs data.judge: filtering reads the judge's risk")
        self.scenario = scenario
        self.judge = judge
        self.cache_dir = cache_dir
        self.failure_policy = failure_policy
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_length = max_length
        self.judge_batch_size = judge_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.filter_risk_at = filter_risk_at
        self.tokenizer: Any = None
        self.train_dataset: datasets.Dataset | None = None
        self.test_rows: list[Row] | None = None
        self.stats: dict[str, Any] = {}
        self.judge_precompute: dict[str, int] = {}  # this process's cache hits / judge calls / failures

    # ------------------------------------------------------------------ rows
    def _train_rows(self) -> list[Row]:
        rows = self.scenario.train_rows()
        for i, row in enumerate(rows):
            check_train_row(row, f"scenario {self.scenario.name!r} training row {i}{_row_origin(row)}")
        if not rows:
            raise NoTrainableRowsError(f"scenario {self.scenario.name!r} produced no training rows")
        return rows

    def _cache(self) -> JudgeScoreCache:
        return JudgeScoreCache(Path(self.cache_dir))

    def prepare_data(self) -> None:
        # One process per node: the only place the judge is called.
        if self.judge is not None:
            self.judge_precompute = precompute_scores(self._train_rows(), self.judge, self._cache(),
                                                      self.failure_policy, self.judge_batch_size)

    def _resolve_tokenizer(self) -> Any:
        if self.tokenizer is None and self.trainer is not None:
            self.tokenizer = self.trainer.lightning_module.tokenizer
        if self.tokenizer is None:
            raise RuntimeError("SafetyDataModule needs a tokenizer: attach the model's (datamodule.tokenizer = ...)")
        require_chat_template(self.tokenizer)
        return self.tokenizer

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_dataset is None:
            self.train_dataset = self._build_train_dataset()
        if stage in ("test", "validate", "fit") and self.test_rows is None:
            self.test_rows = self._build_test_rows()

    def _build_train_dataset(self) -> datasets.Dataset:
        tokenizer = self._resolve_tokenizer()
        rows = self._train_rows()
        self.stats = {"data/rows": len(rows), "data/fingerprint": fingerprint_rows(rows)}
        if self.judge is not None:
            report = cached_risks(rows, self.judge, self._cache(), self.failure_policy)
            risks = report.risks
            self.stats.update({f"data/{k}": v for k, v in report.counts.items()})
        else:
            risks = [math.nan] * len(rows)  # filled each step by a probe callback, or refused
        records = [{"messages": r["messages"], "kind": r.get("kind", ""), "risk": risk}
                   for r, risk in zip(rows, risks) if not (self.judge is not None and math.isnan(risk))]
        if self.filter_risk_at is not None:
            kept_records = [r for r in records if r["risk"] < self.filter_risk_at]
            self.stats["data/rows_dropped_filter"] = len(records) - len(kept_records)
            if not kept_records:
                self.stats["data/rows_trained"] = 0
                return _empty_train_dataset()
            records = kept_records
        max_length = self.max_length

        def encode(record: dict[str, Any]) -> dict[str, Any]:
            enc = encode_chat(tokenizer, record["messages"], max_length)
            return {"input_ids": enc.input_ids, "labels": enc.labels, "prompt_length": enc.prompt_length}

        dataset = datasets.Dataset.from_list(records).map(encode, desc="tokenising")
        kept = dataset.filter(lambda r: r["prompt_length"] < len(r["input_ids"]), desc="dropping truncated rows")
        self.stats["data/rows_dropped_truncated"] = len(dataset) - len(kept)
        self.stats["data/rows_trained"] = len(kept)
        if len(kept) == 0:
            raise NoTrainableRowsError(
                f"every training row of scenario {self.scenario.name!r} lost its response: prompts are "
                f"longer than data.init_args.max_length={self.max_length} (or every row was dropped by the judge "
                "failure policy)"
            )
        return kept.with_format(columns=["input_ids", "labels", "prompt_length", "risk"])

    def _build_test_rows(self) -> list[Row]:
        rows: list[Row] = []
        for group, group_rows in self.scenario.eval_rows().items():
            for i, row in enumerate(group_rows):
                check_eval_row(row, f"scenario {self.scenario.name!r} eval group {group!r} row {i}")
                rows.append({**row, "utility_group": group if row["kind"] == "benign" else None})
        return rows

    # ----------------------------------------------------------- loaders
    def train_dataloader(self) -> ResumableWindows:
        assert self.train_dataset is not None
        tokenizer = self._resolve_tokenizer()
        trainer = self.trainer
        world = trainer.world_size if trainer is not None else 1
        rank = trainer.global_rank if trainer is not None else 0
        # The sampler is made here (not injected by Lightning) because the loader is wrapped below.
        sampler = DistributedSampler(self.train_dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.seed)
        loader = DataLoader(
            self.train_dataset,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            sampler=sampler,
            collate_fn=ChatCollator(tokenizer.pad_token_id),
            num_workers=self.num_workers,
            # Its own generator: creating an iterator then draws nothing from the global stream, so a
            # resumed fit (which restores that stream) continues the uninterrupted run's dropout masks.
            generator=torch.Generator().manual_seed(self.seed),
        )
        accumulate = trainer.accumulate_grad_batches if trainer is not None else 1
        # Resumable mid-epoch: a checkpoint records the batches of the epoch the trainer has processed.
        return ResumableWindows(loader, accumulate, epoch=lambda: trainer.current_epoch if trainer else 0,
                                batches_done=lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed
                                if trainer else 0)

    def test_dataloader(self) -> DataLoader:
        if self.test_rows is None:
            self.test_rows = self._build_test_rows()
        return DataLoader(self.test_rows, batch_size=self.eval_batch_size, collate_fn=list)  # type: ignore[arg-type]


def _row_origin(row: Row) -> str:
    """Where a row came from and how it starts: scenarios sample and shuffle, so the row index alone
    does not point at the line of the user's file."""
    messages = row.get("messages")
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"] \
        if isinstance(messages, list) else []
    prompt = users[-1] if users and isinstance(users[-1], str) else None
    parts = [str(row["source"])] if row.get("source") else []
    if prompt is not None:
        parts.append(f"prompt {prompt[:60]!r}")
    return f" ({', '.join(parts)})" if parts else ""


def _empty_train_dataset() -> datasets.Dataset:
    # Every row was filtered out: an empty set with the training columns, so fit runs zero steps.
    features = datasets.Features({
        "input_ids": datasets.Sequence(datasets.Value("int64")),
        "labels": datasets.Sequence(datasets.Value("int64")),
        "prompt_length": datasets.Value("int64"),
        "risk": datasets.Value("float64"),
    })
    return datasets.Dataset.from_dict({k: [] for k in features}, features=features).with_format(
        columns=["input_ids", "labels", "prompt_length", "risk"])
