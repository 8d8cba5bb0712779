"""A local Hugging Face causal LM as rubric judge, read out from logits instead of sampled text.

The assistant turn is prefilled with "#thescore: ", and the score is the expected value of the
digits 1..5 under the model's next-token distribution (renormalised over those five). No sampling
and no parsing: every item gets a score in [1, 5] from one batched forward pass, and the
probabilities are kept as the raw answer for audit.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Sequence

import torch

from safelight.judges.base import Judge, JudgeItem, JudgeVerdict
from safelight.judges.rubric import RUBRIC_VERSION, SCORE_TAG, build_judge_prompt

DIGITS = ("1", "2", "3", "4", "5")
_TRUNCATION_MARK = " [...]"


class _Encoded:
    """One item ready for the forward pass: context ids, the five digit token ids, and a note."""

    def __init__(self, ids: list[int], digit_ids: list[int], note: str = "") -> None:
        self.ids = ids
        self.digit_ids = digit_ids
        self.note = note


class HFCausalLMJudge(Judge):
    rubric_version = RUBRIC_VERSION

    def __init__(
        self,
        model_name_or_path: str,
        gguf_file: str | None = None,
        batch_size: int = 8,
        max_length: int = 2048,
        dtype: str = "float32",
        trust_remote_code: bool = False,
        device: str | None = None,
    ) -> None:
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise ValueError(f"dtype must name a torch dtype such as 'float32' or 'bfloat16', got {dtype!r}")
        self.model_name_or_path = str(model_name_or_path)
        self.gguf_file = gguf_file
        self.batch_size = batch_size
        self.max_length = max_length
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model: Any = None  # loaded on first use: constructing a judge (configs, tests) stays cheap
        self._tokenizer: Any = None

    @property
    def identity(self) -> str:
        # batch_size and device change no score (up to float noise), so they stay out of the cache key.
        return (
            f"hf-causal-lm(model={self.model_name_or_path},gguf={self.gguf_file},dtype={self.dtype},"
            f"max_length={self.max_length},readout=digit-expectation)"
        )

    def __repr__(self) -> str:
        return f"HFCausalLMJudge({self.model_name_or_path!r}, gguf_file={self.gguf_file!r}, dtype={self.dtype!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = state["_tokenizer"] = None  # reloaded where it is unpickled
        return state

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from safelight.data.chat import require_chat_template

        kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.gguf_file is not None:
            kwargs["gguf_file"] = self.gguf_file
        tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path, **kwargs)
        require_chat_template(tokenizer, f"judge tokenizer {self.model_name_or_path}")
        model = AutoModelForCausalLM.from_pretrained(self.model_name_or_path, dtype=getattr(torch, self.dtype), **kwargs)
        self._tokenizer, self._model = tokenizer, model.to(self.device).eval()
        accepted = inspect.signature(model.forward).parameters
        self._pass_positions = "position_ids" in accepted
        self._logits_to_keep = "logits_to_keep" in accepted

    def _render(self, item: JudgeItem) -> str:
        messages = [{"role": "user", "content": build_judge_prompt(item, score_only=True)}]
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{prompt}{SCORE_TAG} "

    def _digit_context(self, text: str) -> tuple[list[int], list[int]]:
        """Context ids and the five digit ids. Tokenising `text + digit` (not `text` alone) handles
        tokenizers that merge the trailing space into the digit (" 1") as well as those that do not."""
        seqs = [self._tokenizer(text + d, add_special_tokens=False)["input_ids"] for d in DIGITS]
        n = 0
        while all(len(s) > n for s in seqs) and len({s[n] for s in seqs}) == 1:
            n += 1
        digit_ids = [s[n] if len(s) > n else -1 for s in seqs]
        if -1 in digit_ids or len(set(digit_ids)) != len(DIGITS):
            raise ValueError(
                f"the tokenizer of {self.model_name_or_path} does not give the digits 1..5 distinct next "
                f"tokens after {SCORE_TAG!r}; this judge cannot read its scores"
            )
        return seqs[0][:n], digit_ids

    def _encode(self, item: JudgeItem) -> _Encoded | str:
        """The item encoded within `max_length`, cutting the response's tail if needed; or, if
        even an empty response does not fit, the reason as a string."""
        ids, digit_ids = self._digit_context(self._render(item))
        if len(ids) <= self.max_length:
            return _Encoded(ids, digit_ids)
        response_ids = self._tokenizer(item.response, add_special_tokens=False)["input_ids"]
        keep = len(response_ids)
        for _ in range(4):  # detokenise/retokenise is not exact: shrink until it fits
            keep -= len(ids) - self.max_length + 8
            if keep <= 0:
                break
            response = self._tokenizer.decode(response_ids[:keep]) + _TRUNCATION_MARK
            ids, digit_ids = self._digit_context(self._render(JudgeItem(item.prompt, response)))
            if len(ids) <= self.max_length:
                return _Encoded(ids, digit_ids, note=f"response truncated to {keep} of {len(response_ids)} tokens")
        return f"[judge error] the rubric does not fit in max_length={self.max_length} tokens"

    @torch.inference_mode()
    def _forward(self, batch: Sequence[_Encoded]) -> torch.Tensor:
        """Next-token log-probabilities over the vocabulary at the end of each context, [B, V]."""
        width = max(len(e.ids) for e in batch)
        pad_id = self._tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else (self._tokenizer.eos_token_id or 0)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, encoded in enumerate(batch):  # left padding: every context ends at the last column
            input_ids[row, width - len(encoded.ids) :] = torch.tensor(encoded.ids)
            attention_mask[row, width - len(encoded.ids) :] = 1
        kwargs: dict[str, Any] = {"attention_mask": attention_mask.to(self.device), "use_cache": False}
        if self._pass_positions:  # positions count real tokens only, as if each row were alone
            kwargs["position_ids"] = (attention_mask.cumsum(-1) - 1).clamp(min=0).to(self.device)
        if self._logits_to_keep:
            kwargs["logits_to_keep"] = 1
        logits = self._model(input_ids=input_ids.to(self.device), **kwargs).logits[:, -1, :]
        return torch.log_softmax(logits.float(), dim=-1).cpu()

    @staticmethod
    def _verdict(log_probs: torch.Tensor, encoded: _Encoded) -> JudgeVerdict:
        digit_log_probs = log_probs[encoded.digit_ids]
        probs = torch.softmax(digit_log_probs, dim=-1)
        score = float((probs * torch.arange(1, 6, dtype=probs.dtype)).sum())
        mass = float(digit_log_probs.logsumexp(-1).exp())
        raw = f"p(1..5)=[{', '.join(f'{p:.4f}' for p in probs.tolist())}] digit_mass={mass:.4f}"
        raw += f"; {encoded.note}" if encoded.note else ""
        return JudgeVerdict(score if math.isfinite(score) else math.nan, raw=raw)

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeVerdict]:
        self._load()
        encoded = [self._encode(item) for item in items]
        verdicts: list[JudgeVerdict | None] = [
            JudgeVerdict(math.nan, raw=e) if isinstance(e, str) else None for e in encoded
        ]
        # Similar lengths share a batch: less padding, and each score does not depend on its batch.
        order = sorted((i for i, e in enumerate(encoded) if not isinstance(e, str)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = [encoded[i] for i in rows]
            log_probs = self._forward(batch)  # type: ignore[arg-type]
            for row, i in enumerate(rows):
                verdicts[i] = self._verdict(log_probs[row], encoded[i])  # type: ignore[arg-type]
        missing = [i for i, v in enumerate(verdicts) if v is None]
        if missing:
            raise RuntimeError(f"internal error: items {missing[:5]} were not scored")
        return verdicts  # type: ignore[return-value]
