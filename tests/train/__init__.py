"""Tests of safemed.train (tiny random model, real training on the CPU)."""
