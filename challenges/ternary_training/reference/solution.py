"""Canonical entry points of the ternary_training challenge."""
from ternary import make_ternary_linear, ternary_project
from train import train

__all__ = ["ternary_project", "make_ternary_linear", "train"]
