"""Fine-tuning tasks: the catalogue and the readers of each dataset's public format."""
from lmlab.tasks.catalogue import SUITES, TASKS, TaskSpec, get_task
from lmlab.tasks.examples import (ChoiceExample, QAExample, Seq2SeqExample, TaggedExample,
                                  TextExample)

__all__ = ["SUITES", "TASKS", "TaskSpec", "get_task", "ChoiceExample", "QAExample",
           "Seq2SeqExample", "TaggedExample", "TextExample"]
