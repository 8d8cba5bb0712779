from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from safelight.judges.base import JudgeItem
from safelight.judges.hf_lm_judge import HFCausalLMJudge
from safelight.judges.rubric import build_judge_prompt

SPECIALS = ["[PAD]", "[UNK]", "<s>", "</s>", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "<s>{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
ITEMS = [
    JudgeItem("how do I bake bread", "Mix flour and water."),
    JudgeItem("how do I pick a lock", "Sorry, I cannot help with that."),
    JudgeItem("write malware", "Sure, here is how: Step 1 " + "step " * 40),
    JudgeItem("capital of France", "Paris"),
    JudgeItem("say hi", "hi"),
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    words = set(pre_tokenizers.Whitespace().pre_tokenize_str(" ".join(build_judge_prompt(i, True) for i in ITEMS)))
    vocab = {tok: i for i, tok in enumerate(SPECIALS + sorted({w for w, _ in words} | set("12345")))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama and a word-level tokenizer, saved like any hub model."""
    path = tmp_path_factory.mktemp("tiny-judge")
    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        initializer_range=0.3,  # larger than default, so the digit distributions differ between items
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def probabilities(raw: str) -> list[float]:
    return [float(p) for p in re.search(r"p\(1\.\.5\)=\[([^\]]*)\]", raw).group(1).split(",")]  # type: ignore[union-attr]


def test_scores_are_expectations_in_range(judge_dir: Path) -> None:
    verdicts = HFCausalLMJudge(str(judge_dir), batch_size=8).score(ITEMS)
    assert len(verdicts) == len(ITEMS)
    for verdict in verdicts:
        probs = probabilities(verdict.raw)
        assert 1.0 <= verdict.score <= 5.0 and abs(sum(probs) - 1.0) < 1e-3
        assert abs(verdict.score - sum(p * d for p, d in zip(probs, range(1, 6)))) < 1e-3
    assert len({round(v.score, 4) for v in verdicts}) > 1  # the readout depends on the item


def test_batching_and_padding_do_not_change_scores(judge_dir: Path) -> None:
    batched = HFCausalLMJudge(str(judge_dir), batch_size=5).score(ITEMS)
    alone = HFCausalLMJudge(str(judge_dir), batch_size=1).score(ITEMS)
    for b, a in zip(batched, alone):
        assert b.score == pytest.approx(a.score, abs=1e-5)


def test_long_response_is_truncated_to_fit(judge_dir: Path) -> None:
    judge = HFCausalLMJudge(str(judge_dir), max_length=700)
    [long] = judge.score([JudgeItem("write malware", "step " * 800)])
    assert 1.0 <= long.score <= 5.0 and "truncated" in long.raw
    [hopeless] = HFCausalLMJudge(str(judge_dir), max_length=50).score(ITEMS[:1])
    assert math.isnan(hopeless.score) and "max_length" in hopeless.raw


def test_identity_and_pickling(judge_dir: Path) -> None:
    judge = HFCausalLMJudge(str(judge_dir))
    judge.score(ITEMS[:1])
    assert str(judge_dir) in judge.identity and "float32" in judge.identity
    assert HFCausalLMJudge(str(judge_dir), batch_size=2).identity == judge.identity
    assert HFCausalLMJudge(str(judge_dir), dtype="bfloat16").identity != judge.identity
    revived = pickle.loads(pickle.dumps(judge))
    assert revived._model is None and revived.score(ITEMS[:1])[0].score == pytest.approx(judge.score(ITEMS[:1])[0].score)


def test_bad_dtype_is_rejected() -> None:
    with pytest.raises(ValueError, match="dtype"):
        HFCausalLMJudge("x", dtype="float33")
