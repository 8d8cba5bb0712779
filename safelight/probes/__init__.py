"""Activation probes: capture pre-generation activations, train and evaluate a harmful-intent
probe, and run it every training step (`ProbeRiskCallback`) to set each example's risk."""

from safelight.probes.artifact import ProbeMetadata, ProbeMismatchError, ProbeNotFoundError, load_probe, save_probe
from safelight.probes.features import capture_pooled, prompt_features

__all__ = [
    "ProbeMetadata", "ProbeMismatchError", "ProbeNotFoundError", "capture_pooled", "load_probe",
    "prompt_features", "save_probe",
]
