"""Softmax output layers and their training losses (review §3.1)."""
from lmlab.objectives.softmax.class_based import ClassSoftmaxHead, frequency_classes
from lmlab.objectives.softmax.config import OutputConfig
from lmlab.objectives.softmax.hierarchical import HierarchicalSoftmaxHead, huffman_tree
from lmlab.objectives.softmax.importance import importance_sampling_loss
from lmlab.objectives.softmax.nce import nce_loss
from lmlab.objectives.softmax.output import SampledSoftmax, build_output_head, output_config
from lmlab.objectives.softmax.proposal import AdaptiveProposal, UnigramProposal, unigram_counts

__all__ = ["AdaptiveProposal", "ClassSoftmaxHead", "HierarchicalSoftmaxHead", "OutputConfig",
           "SampledSoftmax", "UnigramProposal", "build_output_head", "frequency_classes",
           "huffman_tree", "importance_sampling_loss", "nce_loss", "output_config",
           "unigram_counts"]
