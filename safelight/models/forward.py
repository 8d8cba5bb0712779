"""Final hidden states and output heads of any HF causal LM, LoRA-wrapped or not.

The objective only needs logits at response positions, so the models are run without their
heads, and the heads are applied to the selected positions in chunks (see objective/loss.py).
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, nn


def unwrap_peft(model: nn.Module) -> nn.Module:
    """The transformers model inside a PeftModel (LoRA layers stay injected), or the model itself."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def decoder_hidden_states(model: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """Last hidden state (after the final norm) of shape (batch, seq, hidden)."""
    from safelight.distributed import is_fully_sharded, root_forward_hidden_states

    if is_fully_sharded(model):
        # FSDP2 gathers the embeddings and head only in the root's forward hooks.
        return root_forward_hidden_states(model, input_ids, attention_mask)
    decoder = unwrap_peft(model).get_decoder()
    out = decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return out.last_hidden_state


def output_head(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """hidden -> logits, including the logit soft-capping some families (Gemma 2) apply."""
    base = unwrap_peft(model)
    head = base.get_output_embeddings()
    cap = getattr(base.config, "final_logit_softcapping", None)
    if not cap:
        return head

    def capped(hidden: Tensor) -> Tensor:
        return (head(hidden) / cap).tanh() * cap

    return capped
