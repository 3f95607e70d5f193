"""Saved fine-tuning options stay comparable after lmlab adds an option."""

from lmlab.finetune.config import FinetuneOptions, same_options


def test_an_option_added_since_counts_as_its_default():
    saved = {key: value for key, value in FinetuneOptions(lr=3e-4).__dict__.items()
             if key != "label_smoothing"}  # written before the option existed
    assert same_options(saved, FinetuneOptions(lr=3e-4))
    assert not same_options(saved, FinetuneOptions(lr=3e-4, label_smoothing=0.1))
    assert not same_options(saved, FinetuneOptions(lr=1e-3))
    assert same_options({**saved, "progress": False}, FinetuneOptions(lr=3e-4, progress=True),
                        ignore=("progress",))
    assert not same_options({**saved, "progress": False}, FinetuneOptions(lr=3e-4, progress=True))
