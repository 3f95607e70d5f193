"""Task readers on the shared files (exact row counts, label sets) and on bad input."""

import json

import pytest

from lmlab.errors import DataError
from lmlab.tasks import get_task
from lmlab.tasks.structured_readers import read_c3, read_conll, read_race, read_squad
from lmlab.tasks.tsv_readers import ColumnLayout, read_columns

COUNTS = {  # task, split -> (rows, label set or None)
    ("glue/cola", "train"): (8551, {"0", "1"}),
    ("glue/cola", "dev"): (1043, {"0", "1"}),
    ("glue/sst2", "train"): (67349, {"0", "1"}),
    ("glue/sst2", "dev"): (872, {"0", "1"}),
    ("glue/mrpc", "train"): (3668 - 1, {"0", "1"}),
    ("glue/mrpc", "dev"): (408, {"0", "1"}),
    ("glue/rte", "dev"): (277, {"entailment", "not_entailment"}),
    ("glue/wnli", "train"): (635, {"0", "1"}),
    ("glue/qnli", "dev"): (5463, {"entailment", "not_entailment"}),
    ("clue/chnsenticorp", "train"): (9600, {"0", "1"}),
    ("clue/chnsenticorp", "dev"): (1200, {"0", "1"}),
    ("clue/lcqmc", "dev"): (8802, {"0", "1"}),
    ("clue/bq", "dev"): (10000, {"0", "1"}),
    ("clue/xnli", "dev"): (2490, {"contradiction", "entailment", "neutral"}),
    ("clue/thucnews", "dev"): (10000, {str(i) for i in range(10)}),
    ("clue/weibo", "dev"): (11999, {"0", "1"}),
}


def test_split_slices_are_contiguous_parts_in_file_order(shared_data):
    spec = get_task("clue/lcqmc")
    every = spec.read("dev")  # 8802 pairs
    first, second = spec.read("dev[:50%]"), spec.read("dev[50%:]")
    assert (len(first), len(second)) == (4401, 4401)
    assert first + second == every
    assert spec.read("dev[10:13]") == every[10:13]
    assert spec.read("dev[8800:]") == every[8800:] and len(spec.read("dev[:9999]")) == 8802
    assert spec.available("dev[:50%]") and not spec.available("train[:50%]")


def test_bad_split_slice_is_named(shared_data):
    with pytest.raises(DataError, match=r"dev\[a:b\].*dev\[:50%\]"):
        get_task("clue/lcqmc").read("dev[a:b]")
    with pytest.raises(DataError, match="has no split 'valid'"):
        get_task("clue/lcqmc").read("valid[:50%]")


@pytest.mark.parametrize("task,split", list(COUNTS))
def test_classification_rows_and_labels(shared_data, task, split):
    examples = get_task(task).read(split)
    rows, labels = COUNTS[task, split]
    assert len(examples) == rows
    assert {e.label for e in examples} == labels
    assert all(e.text_a for e in examples)


def test_pair_tasks_have_both_texts_and_test_files_have_no_labels(shared_data):
    mrpc = get_task("glue/mrpc").read("dev")
    assert mrpc[0].text_b and mrpc[0].source.endswith("dev.tsv:2")
    test = get_task("glue/sst2").read("test")
    assert len(test) == 1821 and all(e.label is None for e in test)
    assert len(get_task("glue/cola").read("test")) == 1063


def test_stsb_scores_are_floats(shared_data):
    dev = get_task("glue/stsb").read("dev")
    assert len(dev) == 1500 and dev[0].label == 5.0
    assert all(0.0 <= e.label <= 5.0 for e in dev)


def test_ner_readers(shared_data):
    train = get_task("ner/conll2003").read("train")
    dev = get_task("ner/conll2003").read("dev")
    assert (len(train), len(dev)) == (14041, 3250)
    assert train[0].tokens[:3] == ["EU", "rejects", "German"]
    assert train[0].tags[:3] == ["B-ORG", "O", "B-MISC"]
    assert {t for e in train for t in e.tags} == {
        "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"}
    people = get_task("ner/peoples_daily").read("dev")
    assert len(people) == 2318 and all(len(t) == 1 for t in people[0].tokens)


def test_mrc_and_choice_readers(shared_data):
    cmrc = get_task("qa/cmrc2018").read("dev")
    assert len(cmrc) == 3219
    assert all(e.context[s:s + len(t)] == t for e in cmrc for t, s in e.answers if s >= 0)
    assert len(get_task("qa/drcd").read("dev")) == 3524
    c3 = get_task("mc/c3").read("dev")
    assert len(c3) == 3816 and {e.label for e in c3} == {0, 1, 2, 3}
    assert c3[0].options[c3[0].label] == "工作"


def test_malformed_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\ngood film\t1\nno label here\n")
    with pytest.raises(DataError, match=r"train.tsv:3: field 'label'"):
        read_columns(path, ColumnLayout("sentence", None, "label"))
    path.write_text("sentence1\tsentence2\tscore\na\tb\tfive\n")
    with pytest.raises(DataError, match=r"train.tsv:2: field 'label': 'five' is not a number"):
        read_columns(path, ColumnLayout("sentence1", "sentence2", "score", regression=True))
    conll = tmp_path / "ner.txt"
    conll.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP X-ORG\n")
    with pytest.raises(DataError, match=r"ner.txt:2: field 'tag'"):
        read_conll(conll)


def test_json_readers_on_public_layouts(tmp_path):
    squad = {"data": [{"paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where is Paris?", "answers": [
            {"text": "France", "answer_start": 12}]}]}]}]}
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    (example,) = read_squad(tmp_path / "squad.json")
    assert example.answers == [("France", 12)]
    race = {"article": "Tom has a cat.", "questions": ["What does Tom have?"],
            "options": [["a dog", "a cat", "a cow", "a hen"]], "answers": ["B"], "id": "1.txt"}
    (tmp_path / "race").mkdir()
    (tmp_path / "race" / "1.txt").write_text(json.dumps(race))
    (choice,) = read_race(tmp_path / "race")
    assert choice.label == 1 and choice.options[1] == "a cat"
    race["answers"] = ["E"]
    (tmp_path / "race" / "1.txt").write_text(json.dumps(race))
    with pytest.raises(DataError, match="field 'answers'"):
        read_race(tmp_path / "race")
    (tmp_path / "c3.json").write_text(json.dumps([[["男：你好"], [
        {"question": "谁?", "choice": ["男", "女"], "answer": "猫"}], "1"]]))
    with pytest.raises(DataError, match="field 'answer'"):
        read_c3(tmp_path / "c3.json")


def test_unknown_task_lists_close_matches():
    with pytest.raises(DataError, match=r"unknown task 'glue/sst'.*glue/sst2"):
        get_task("glue/sst")
    with pytest.raises(DataError, match=r"clue/chnsenticorp"):
        get_task("chnsenticorp")


def test_missing_split_names_the_file(shared_data):
    with pytest.raises(DataError, match=r"glue/mnli/train: expected .*MNLI/train.tsv"):
        get_task("glue/mnli").read("train")
