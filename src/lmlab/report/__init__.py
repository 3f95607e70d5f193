"""Comparison tables and reports."""
