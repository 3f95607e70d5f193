"""AG News topic classification (Zhang et al. 2015): the reader and the seeded split it
shares with the headline task."""

import pytest

from lmlab.errors import DataError
from lmlab.tasks.catalogue import get_task
from lmlab.tasks.topic_readers import read_topics


@pytest.mark.parametrize("header", ["label,title,description\n", ""])
def test_three_rows_are_read_exactly(tmp_path, header):
    path = tmp_path / "ag.csv"
    path.write_text(header + '3,Oil #39;s rise,"Prices rose \\\\ again, said AP."\n'
                    '1,Vote today,Polls open at nine.\n'
                    '4,"Chips, faster",Intel #36;5 chip &lt;b&gt;ships&lt;/b&gt;\n',
                    encoding="utf-8")
    examples = read_topics(path)
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [
        ("Oil's rise Prices rose again, said AP.", None, "2"),
        ("Vote today Polls open at nine.", None, "0"),
        ("Chips, faster Intel $5 chip ships", None, "3")]
    assert examples[2].source == f"{path}:{4 if header else 3}"


def test_a_class_outside_1_to_4_names_its_line(tmp_path):
    path = tmp_path / "ag.csv"
    path.write_text("label,title,description\n5,A title,A text.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"ag.csv:2: field 'label': expected a class index 1-4"):
        read_topics(path)


def test_the_topic_task_uses_the_headline_tasks_seeded_split(shared_data):
    topics, headlines = get_task("topic/ag_news"), get_task("gen/ag_news_headlines")
    for split, size in (("train", 6000), ("dev", 800), ("test", 800)):
        rows = topics.read(split)
        assert len(rows) == size
        assert [e.source for e in rows] == [e.source for e in headlines.read(split)]
    assert sorted({e.label for e in topics.read("dev")}) == ["0", "1", "2", "3"]
