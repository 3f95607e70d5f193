"""Pruning: magnitude pruning of weight matrices."""
