"""Comparing defenses: sweeps of `safelight fit` cells into one MLflow experiment, and tables and
plots read back from MLflow only (`safelight sweep ...`, `safelight compare ...`)."""
