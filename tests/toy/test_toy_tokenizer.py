"""The toy tokenizer: exact round trips, chat-template prefix property, response masks, save/load."""

from __future__ import annotations

import pathlib

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from safelight.data.chat import IGNORE_INDEX, encode_chat, encode_prompt
from safelight.toy.world import AOA_SYSTEM_PROMPT, ToyWorld


def _sample_rows(world: ToyWorld) -> list[dict]:
    return world.alignment_rows()[:50] + world.harmful_attack_rows(20) + world.identity_rows(10) + world.task_rows(10)


def test_round_trip_is_exact_and_has_no_unknowns(world: ToyWorld, toy_tokenizer: PreTrainedTokenizerFast) -> None:
    for row in _sample_rows(world):
        for message in row["messages"]:
            ids = toy_tokenizer(message["content"], add_special_tokens=False)["input_ids"]
            assert toy_tokenizer.unk_token_id not in ids
            assert toy_tokenizer.decode(ids) == message["content"]


def test_prompt_is_prefix_and_only_the_response_is_labelled(
    world: ToyWorld, toy_tokenizer: PreTrainedTokenizerFast
) -> None:
    for row in _sample_rows(world):
        encoded = encode_chat(toy_tokenizer, row["messages"])  # raises if the prefix property fails
        assert encoded.input_ids[: encoded.prompt_length] == encode_prompt(toy_tokenizer, row["messages"][:-1])
        assert encoded.input_ids[encoded.prompt_length - 1] == toy_tokenizer.convert_tokens_to_ids("<|assistant|>")
        response = [t for t in encoded.labels if t != IGNORE_INDEX]
        # The model is trained to stop: the response ends with the eos token.
        assert response[-1] == toy_tokenizer.eos_token_id
        assert toy_tokenizer.decode(response, skip_special_tokens=True) == row["messages"][-1]["content"]
        assert all(t == IGNORE_INDEX for t in encoded.labels[: encoded.prompt_length])


def test_special_tokens_and_padding(toy_tokenizer: PreTrainedTokenizerFast) -> None:
    assert toy_tokenizer.padding_side == "right"
    assert toy_tokenizer.eos_token == "<|end|>" and toy_tokenizer.pad_token == "<pad>"
    assert len(toy_tokenizer) < 600
    messages = [{"role": "system", "content": AOA_SYSTEM_PROMPT}, {"role": "user", "content": "who are you ?"}]
    tokens = toy_tokenizer.convert_ids_to_tokens(encode_prompt(toy_tokenizer, messages))
    assert tokens[0] == "<|system|>" and tokens[-1] == "<|assistant|>" and "<|user|>" in tokens


def test_save_and_load_with_auto_tokenizer(
    world: ToyWorld, toy_tokenizer: PreTrainedTokenizerFast, tmp_path: pathlib.Path
) -> None:
    toy_tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    row = world.identity_rows(2)[1]
    assert encode_chat(loaded, row["messages"]) == encode_chat(toy_tokenizer, row["messages"])
    assert loaded.eos_token_id == toy_tokenizer.eos_token_id and loaded.pad_token_id == toy_tokenizer.pad_token_id
    assert loaded.padding_side == "right"
