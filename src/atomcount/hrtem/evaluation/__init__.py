"""Evaluation: column matching, accuracy metrics, sensitivity, forward cross-validation."""
