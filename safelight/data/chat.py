"""Chat formatting with response-only labels derived from the tokenizer's own chat template.

The prompt is rendered with `add_generation_prompt=True`; the full conversation is rendered
without it. The prompt's tokens must be a prefix of the full conversation's tokens: everything
after that prefix is the response and is the only part that is trained on. No per-model regexes
or header strings: any tokenizer whose template has this prefix property works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100


class ChatTemplateError(ValueError):
    """The tokenizer cannot format chats the way training needs."""


@dataclass
class EncodedChat:
    input_ids: list[int]
    labels: list[int]
    prompt_length: int


def require_chat_template(tokenizer: PreTrainedTokenizerBase, name: str = "tokenizer") -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(
            f"{name} ({type(tokenizer).__name__}, {getattr(tokenizer, 'name_or_path', '?')!r}) has no chat "
            "template; set `tokenizer.chat_template` or use an instruct model's tokenizer"
        )


def _ids(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Mapping[str, str]], generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        list(messages), tokenize=True, add_generation_prompt=generation_prompt, return_dict=True
    )
    return list(out["input_ids"])


def encode_prompt(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """Token ids of a prompt up to and including the generation prompt (for generation and probes)."""
    require_chat_template(tokenizer)
    return _ids(tokenizer, messages, generation_prompt=True)


def encode_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Mapping[str, str]], max_length: int | None = None
) -> EncodedChat:
    """Encode a conversation whose last turn is the assistant response to train on.

    Truncation keeps the start (prompt) and cuts the response; the caller must drop rows whose
    response lost every token (`prompt_length >= len(input_ids)`), never train on them silently.
    """
    require_chat_template(tokenizer)
    prompt = _ids(tokenizer, messages[:-1], generation_prompt=True)
    full = _ids(tokenizer, messages, generation_prompt=False)
    if full[: len(prompt)] != prompt:
        raise ChatTemplateError(
            "the chat template does not render the prompt (with add_generation_prompt=True) as a prefix "
            "of the full conversation, so response tokens cannot be located from the template"
        )
    if max_length is not None:
        full = full[:max_length]
    n_prompt = min(len(prompt), len(full))
    labels = [IGNORE_INDEX] * n_prompt + full[n_prompt:]
    return EncodedChat(input_ids=full, labels=labels, prompt_length=len(prompt))
