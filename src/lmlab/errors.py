"""User-facing errors.

Every problem caused by the user's input (a file, a config key, a dataset name, a
checkpoint) raises :class:`LmlabError` with a message that names *where* the problem is
and *what was expected*. The CLI prints such errors as one line, without a traceback.
"""


class LmlabError(Exception):
    """An error in the user's input; its message is meant to be read, not debugged."""


class ConfigError(LmlabError):
    """A config key, type or value that is not allowed."""


class DataError(LmlabError):
    """A corpus, dataset or task file that cannot be used as it is."""


class CheckpointError(LmlabError):
    """A run folder or checkpoint that is missing, incomplete or from another model."""


class TrainingDiverged(LmlabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class PeerLost(LmlabError):
    """A process of a distributed run died or could not be reached; checkpoints are kept."""
