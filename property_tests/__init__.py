"""Hypothesis property tests: laws, purity, resume, and each callback's decision logic."""
