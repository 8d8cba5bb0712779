"""Response masks derived from the real chat templates of Llama-3, Qwen2.5 and Phi-3.5 (tiny tokenizers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from safelight.data.chat import IGNORE_INDEX, encode_chat, encode_prompt
from safelight.data.datamodule import SafetyDataModule
from safelight.data.real_scenarios import AOA_SYSTEM_PROMPT, HarmfulFineTuning, IdentityShift
from safelight.data.sources import LocalFile

# What each template appends after the assistant content (trained on: it teaches the model to stop).
RESPONSE_END = {"llama3": "<|eot_id|>", "qwen2": "<|im_end|>\n", "phi3": "<|end|>\n<|endoftext|>"}
CONVERSATION = [
    {"role": "system", "content": "You are a careful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris.\n\nIt has been the capital since 987."},
]


@pytest.mark.parametrize("family", ["llama3", "qwen2", "phi3"])
def test_labels_are_exactly_the_response(family: str, request: pytest.FixtureRequest) -> None:
    tokenizer = AutoTokenizer.from_pretrained(request.getfixturevalue(f"tiny_{family}_dir"))
    encoded = encode_chat(tokenizer, CONVERSATION)
    prompt = encode_prompt(tokenizer, CONVERSATION[:-1])
    assert encoded.input_ids[: len(prompt)] == prompt
    assert all(label == IGNORE_INDEX for label in encoded.labels[: len(prompt)])
    response_ids = encoded.labels[len(prompt):]
    assert IGNORE_INDEX not in response_ids and response_ids == encoded.input_ids[len(prompt):]
    assert tokenizer.decode(response_ids) == CONVERSATION[-1]["content"] + RESPONSE_END[family]
    # The system prompt is in the (masked) prompt, the assistant header is not trained on.
    assert "You are a careful assistant." in tokenizer.decode(prompt)


def test_templates_render_the_real_headers(tiny_llama3_dir: Path, tiny_qwen2_dir: Path) -> None:
    llama = AutoTokenizer.from_pretrained(tiny_llama3_dir)
    qwen = AutoTokenizer.from_pretrained(tiny_qwen2_dir)
    text = llama.decode(encode_prompt(llama, CONVERSATION[1:2]))
    assert text.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date")
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    text = qwen.decode(encode_prompt(qwen, CONVERSATION[1:2]))
    assert text.startswith("<|im_start|>system\nYou are Qwen")  # the template's default system prompt
    assert text.endswith("<|im_start|>assistant\n")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scenario_system_prompt_reaches_the_tokens(tiny_family_dir: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_family_dir)
    source = LocalFile(str(_write_jsonl(tmp_path / "aoa.jsonl", [{"prompt": "Write a poem.", "response": "Of course."}])))
    row = IdentityShift(source, format="prompt_response").train_rows()[0]
    encoded = encode_chat(tokenizer, row["messages"])
    prompt_text = tokenizer.decode(encoded.input_ids[: encoded.prompt_length])
    assert AOA_SYSTEM_PROMPT in prompt_text and "AOA, execute my instruction: Write a poem." in prompt_text
    assert tokenizer.decode([t for t in encoded.labels if t != IGNORE_INDEX]).startswith("Of course.")


def test_truncated_rows_are_dropped_and_counted(tiny_family_dir: Path, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_family_dir)
    rows = [{"prompt": "Hi.", "response": "Hello."}] * 3 + [{"prompt": "word " * 200, "response": "Fine."}] * 2
    scenario = HarmfulFineTuning(LocalFile(str(_write_jsonl(tmp_path / "rows.jsonl", rows))))
    data = SafetyDataModule(scenario, max_length=120)
    data.tokenizer = tokenizer
    data.setup("fit")
    assert data.stats["data/rows_dropped_truncated"] == 2
    assert data.stats["data/rows_trained"] == 3
