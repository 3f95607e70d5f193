"""``lmlab compress --method bnn`` (issue 20): the review's "BNN" row, a bi-attentive student
(Liu, Wang, Lin, Socher & Xiong 2019, "Attentive Student Meets Multi-Task Teacher: Improved
Knowledge Distillation for Pretrained Models", §3.2: McCann et al. 2017's bi-attentive
classification network, :mod:`lmlab.encoders.bcn`) distilled from the fine-tuned teacher.

The student reads the teacher's word vectors (copied in, token embeddings only, as Tang's)
through the BCN encoder (feed-forward, BiLSTM, bi-attention, integrating BiLSTM) and the
sequence head's mean pooling. It trains like Tang et al.'s BiLSTM
(:func:`lmlab.finetune.bilstm_student.train_rnn_student`): the squared logit distance to
the teacher (Liu et al. eq. 3 uses the teacher's logits as targets, MSE), on the task's
examples plus, when ``n_iter > 0``, Tang's synthetic sentences. Liu et al.'s multi-task
teacher is one task's teacher here (``kd`` with ``teachers:`` averages several).
"""

from __future__ import annotations

import dataclasses

from lmlab.compression.method import Compressed, Method, Source
from lmlab.encoders.bcn import BCNConfig
from lmlab.errors import ConfigError
from lmlab.finetune.bilstm_student import TANG, check as check_tang, train_rnn_student


def bcn_student_config(model_config, cell_size: int = 0, dropout: float = 0.1):
    """The student's ModelConfig from the teacher's: its vocabulary and word-vector width E
    (token embeddings only, no positions, segments or LayerNorm), the BCN encoder with
    ``cell_size`` cells a direction (0 = E / 2, the size whose output ties to the vectors)."""
    width = model_config.embedding.embedding_size or model_config.embedding.hidden_size
    embedding = dataclasses.replace(model_config.embedding, position="none", num_segments=0,
                                    num_languages=0, layer_norm=False, hidden_size=width,
                                    embedding_size=0)
    # The backbone's (unused) LM head ties to the word vectors when 2c = E; another width
    # needs an untied one (V x 2c more parameters).
    lm_head = dataclasses.replace(model_config.lm_head, tie_weights=model_config.lm_head.tie_weights
                                  and cell_size in (0, width // 2) and width % 2 == 0)
    return dataclasses.replace(model_config, family="bcn_student", embedding=embedding,
                               encoder=BCNConfig(cell_size=cell_size, dropout=dropout),
                               lm_head=lm_head, decoder=None)


def bnn(source: Source, settings: dict) -> Compressed:
    model_config = bcn_student_config(source.config.model, settings["cell_size"],
                                      settings["dropout"])
    cells = model_config.encoder.cell_size or model_config.embedding.hidden_size // 2
    return train_rnn_student(source, settings, model_config, "bnn",
                             {"encoder": "bcn", "cell_size": cells})


def _check(settings: dict) -> None:
    check_tang(settings)
    if settings["cell_size"] and settings["cell_size"] < 1:
        raise ConfigError(f"--set cell_size={settings['cell_size']}: must be >= 1 (0 = E / 2)")


BNN = Method("bnn", "bi-attentive (BCN) student distilled by logit MSE (Liu et al. 2019; "
             "McCann et al. 2017), the review's BNN row",
             {**TANG.defaults, "n_iter": 0, "cell_size": 0}, bnn, _check)
