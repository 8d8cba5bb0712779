"""`safelight export`: a fine-tuned policy as a plain Hugging Face model directory.

    safelight export --checkpoint <ckpt> --config <fit yaml> [--config <more yaml>] --output <dir>
    safelight export ... --adapter-only     # the LoRA adapter alone (adapter_config.json + weights)

The policy is rebuilt from the same configs the run was fitted with (so the same base model, LoRA
settings and tokenizer), the checkpoint's policy weights are loaded strictly, LoRA is merged into
the weights, and model + tokenizer (with its chat template) are saved with `save_pretrained`. The
result loads with `AutoModelForCausalLM.from_pretrained(dir)` and no safelight code: the defense
costs nothing at inference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from safelight.models.reference import is_peft_model
from safelight.models.sources import torch_dtype

POLICY_PREFIX = "policy_model."


class ExportError(ValueError):
    pass


def build_module(configs: Sequence[str], overrides: Sequence[str] = ()) -> Any:
    """The SafeFineTuner the fit configs describe, with its policy built (weights as loaded, untrained)."""
    from safelight.cli import SafelightCLI

    args = [a for c in configs for a in ("--config", c)]
    # No logger (no MLflow run for an export) and CPU: exporting needs no accelerator.
    args += ["--trainer.logger=false", "--trainer.accelerator=cpu", "--trainer.devices=1", *overrides]
    cli = SafelightCLI(args=args, run=False)
    module = cli.model
    module.configure_model()
    return module


def load_policy_weights(policy: nn.Module, checkpoint: str | Path, module: Any = None) -> None:
    """Load the checkpoint's `policy_model.*` tensors strictly (every key, nothing else)."""
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise ExportError(f"--checkpoint {checkpoint} does not exist") from error
    if module is not None:
        module.on_load_checkpoint(saved)  # restores the frozen weights checkpoints leave out
    state = {k[len(POLICY_PREFIX):]: v for k, v in saved.get("state_dict", {}).items() if k.startswith(POLICY_PREFIX)}
    if not state:
        raise ExportError(f"--checkpoint {checkpoint} holds no '{POLICY_PREFIX}*' weights: not a safelight fit checkpoint")
    result = policy.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ExportError(
            f"--checkpoint {checkpoint} does not match the policy the --config files build (LoRA settings or base "
            f"model differ?): missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )


def merged_model(policy: nn.Module) -> nn.Module:
    """The plain transformers model: LoRA merged into the weights, adapter layers removed."""
    return policy.merge_and_unload() if is_peft_model(policy) else policy


def export_policy(module: Any, output: str | Path, adapter_only: bool = False, dtype: str | None = None,
                  provenance: dict[str, Any] | None = None) -> Path:
    output = Path(output)
    policy = module.policy_model
    if adapter_only and not is_peft_model(policy):
        raise ExportError("--adapter-only needs a LoRA policy (model.init_args.policy.init_args.lora is not set)")
    policy.eval()
    if adapter_only:
        policy.save_pretrained(output)
    else:
        model = merged_model(policy)
        target = dtype or getattr(module.policy_source, "dtype", "float32")
        if target != "auto":
            model = model.to(torch_dtype(target))  # type: ignore[arg-type]
        model.config.use_cache = True  # gradient checkpointing turns it off for training only
        model.save_pretrained(output)
    # The tokenizer carries the chat template the policy was fine-tuned with.
    module.tokenizer.save_pretrained(output)
    info = {"adapter_only": adapter_only, "base_model": module.policy_source.identity, **(provenance or {})}
    (output / "safelight_export.json").write_text(json.dumps(info, indent=2) + "\n")
    return output


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="safelight export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a checkpoint written by `safelight fit`")
    parser.add_argument("--config", action="append", required=True,
                        help="the fit config(s), in the order the run used them (repeatable)")
    parser.add_argument("--output", required=True, help="directory to write the model into")
    parser.add_argument("--adapter-only", action="store_true", help="save only the LoRA adapter (for adapter serving)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"], default=None,
                        help="dtype of the saved weights (default: the policy's configured dtype)")
    parser.add_argument("--override", action="append", default=[],
                        help="extra CLI override as used at fit time, e.g. --override=--model.policy.init_args.name_or_path=/x")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> None:
    import sys

    args = parse_args(sys.argv[1:] if argv is None else argv)
    module = build_module(args.config, args.override)
    load_policy_weights(module.policy_model, args.checkpoint, module)
    out = export_policy(module, args.output, adapter_only=args.adapter_only, dtype=args.dtype,
                        provenance={"checkpoint": str(args.checkpoint), "configs": list(args.config)})
    kind = "adapter" if args.adapter_only else "merged model"
    print(f"exported the fine-tuned policy ({kind}) to {out}")


if __name__ == "__main__":
    main()
