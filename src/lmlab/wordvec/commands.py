"""Sub-commands of the wordvec area (placeholder until the area lands)."""


def add_commands(subparsers) -> None:
    """Add this area's sub-commands to the `lmlab` parser."""
