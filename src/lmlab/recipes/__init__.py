"""Command recipes: end-to-end jobs the CLI calls."""
