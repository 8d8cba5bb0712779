"""The toy world's word-level tokenizer, as a regular `PreTrainedTokenizerFast` with a chat template.

Text is words separated by single spaces, so splitting on whitespace is exact and decoding is a
join with spaces. The template renders `<|role|> content <|end|>` per turn; the generation prompt
is `<|assistant|>`, so a prompt is a token prefix of its full conversation (what
`safelight.data.chat.encode_chat` needs) and the trained response ends with `<|end|>` (the eos),
which teaches the model to stop.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from safelight.toy.world import ToyWorld

UNK, PAD, END = "<unk>", "<pad>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (UNK, PAD, END, *ROLE_TOKENS)

# Whitespace around special tokens is explicit so the rendered text splits the same way whether or
# not a turn follows; `trim` keeps a trailing space from producing an empty token.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|> ' + message['content'] | trim + ' <|end|> ' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|> ' }}{% endif %}"
)


def build_toy_tokenizer(world: ToyWorld) -> PreTrainedTokenizerFast:
    words = [w for w in world.vocabulary() if w not in SPECIAL_TOKENS]
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # The WordPiece decoder joins tokens with spaces; cleanup off keeps " ." exactly as generated.
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        pad_token=PAD,
        eos_token=END,
        additional_special_tokens=list(ROLE_TOKENS),
        padding_side="right",
        clean_up_tokenization_spaces=False,
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
