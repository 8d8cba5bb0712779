"""The embedded toy world: data generator, tokenizer, tiny Llama, safe reference policy, judge.

Quick use:
    path = ensure_toy_reference()              # builds once (~2 min on 2 idle CPU cores), then cached
    model, tokenizer = load_toy_reference(path)
    world = ToyWorld(seed=0)
    world.harmful_attack_rows(200), world.eval_rows()["harmful"]
"""

from safelight.toy.judge import ToyJudge
from safelight.toy.quality import ToyReferenceQualityError, check_quality_gate, is_refusal, measure_toy_model
from safelight.toy.reference import ensure_toy_reference, load_toy_reference, toy_reference_dir
from safelight.toy.tokenizer import build_toy_tokenizer
from safelight.toy.model import init_toy_model, toy_llama_config
from safelight.toy.world import AOA_SYSTEM_PROMPT, AOA_USER_PREFIX, HEXPHI_CATEGORIES, WORLD_VERSION, ToyWorld

__all__ = [
    "AOA_SYSTEM_PROMPT", "AOA_USER_PREFIX", "HEXPHI_CATEGORIES", "WORLD_VERSION", "ToyJudge",
    "ToyReferenceQualityError", "ToyWorld", "build_toy_tokenizer", "check_quality_gate",
    "ensure_toy_reference", "init_toy_model", "is_refusal", "load_toy_reference", "measure_toy_model",
    "toy_llama_config", "toy_reference_dir",
]
