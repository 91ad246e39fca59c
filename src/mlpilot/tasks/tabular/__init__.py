"""Tabular prediction: classification and regression on tables."""
