"""Readers for CoNLL-column NER, SQuAD v1.1 JSON (CMRC 2018, DRCD), RACE and C3 JSON.

* CoNLL-2003 (Tjong Kim Sang & De Meulder 2003): ``word POS chunk NER`` a line, a blank
  line between sentences, ``-DOCSTART-`` lines skipped. The char-per-line Chinese sets
  (MSRA, People's Daily) are the same with two columns. A file inside a zip is named
  ``archive.zip!member.txt``.
* SQuAD v1.1 (Rajpurkar et al. 2016): ``data[].paragraphs[].{context, qas[].{id,
  question, answers[].{text, answer_start}}}``.
* RACE (Lai et al. 2017): ``{article, questions[], options[][], answers[] (letters)}`` a
  passage, one per file in a folder, or a list / ``{"data": [...]}`` / JSON lines.
* C3 (Sun et al. 2020): ``[[sentences], [{question, choice[], answer}], id]`` items.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from lmlab.errors import DataError
from lmlab.tasks.examples import ChoiceExample, QAExample, TaggedExample


def _open_text(path: str | Path):
    text = str(path)
    if ".zip!" in text:
        archive, member = text.split(".zip!", 1)
        try:
            data = zipfile.ZipFile(archive + ".zip").read(member)
        except (FileNotFoundError, KeyError):
            raise DataError(f"{text}: no such file (or member)") from None
        return io.StringIO(data.decode("utf-8-sig"))
    try:
        return open(text, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{text}: no such file") from None


def read_conll(path: str | Path, token_column: int = 0, tag_column: int = -1) -> list[TaggedExample]:
    examples, tokens, tags, start = [], [], [], 1
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if tokens:
                    examples.append(TaggedExample(tokens, tags, f"{path}:{start}"))
                tokens, tags = [], []
                continue
            if len(fields) < 2:
                raise DataError(f"{path}:{number}: field 'tag': expected a token and a tag, "
                                f"found {line.strip()!r}")
            tag = fields[tag_column]
            if tag != "O" and not (len(tag) > 2 and tag[1] == "-" and tag[0] in "BIESM"):
                raise DataError(f"{path}:{number}: field 'tag': {tag!r} is not a BIO/BIOES tag")
            if not tokens:
                start = number
            tokens.append(fields[token_column])
            tags.append(tag)
    if tokens:
        examples.append(TaggedExample(tokens, tags, f"{path}:{start}"))
    return examples


def _load_json(path: str | Path):
    with _open_text(path) as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None


def _field(item: dict, key: str, where: str):
    if not isinstance(item, dict) or key not in item:
        raise DataError(f"{where}: missing field {key!r}")
    return item[key]


def read_squad(path: str | Path) -> list[QAExample]:
    data = _field(_load_json(path), "data", str(path))
    examples = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(_field(article, "paragraphs", f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", where)
            for q, qa in enumerate(_field(paragraph, "qas", where)):
                at = f"{where}.qas[{q}]"
                answers = []
                for n, answer in enumerate(qa.get("answers", [])):
                    text, start = (_field(answer, k, f"{at}.answers[{n}]")
                                   for k in ("text", "answer_start"))
                    if not isinstance(start, int) or context[start:start + len(text)] != text:
                        # Some MRC sets (CMRC 2018) carry -1 or shifted offsets: re-find.
                        start = context.find(text)
                    answers.append((text, start))
                examples.append(QAExample(str(_field(qa, "id", at)), _field(qa, "question", at),
                                          context, answers, at))
    return examples


def _race_items(path: Path) -> list[tuple[str, dict]]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".json"))
        return [(str(f), _load_json(f)) for f in files]
    with _open_text(path) as handle:
        text = handle.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # JSON lines
        return [(f"{path}:{n}", json.loads(line)) for n, line in enumerate(text.splitlines(), 1)
                if line.strip()]
    if isinstance(data, dict):
        data = data.get("data", [data])
    return [(f"{path}: item {i}", item) for i, item in enumerate(data)]


def read_race(path: str | Path) -> list[ChoiceExample]:
    examples = []
    for where, item in _race_items(Path(path)):
        article = _field(item, "article", where)
        questions, options = _field(item, "questions", where), _field(item, "options", where)
        answers = item.get("answers") or [None] * len(questions)
        if not (len(questions) == len(options) == len(answers)):
            raise DataError(f"{where}: field 'options': {len(questions)} questions but "
                            f"{len(options)} option lists and {len(answers)} answers")
        for question, choices, answer in zip(questions, options, answers):
            label = None
            if answer is not None:
                label = "ABCDEFGH".find(str(answer).strip())
                if not 0 <= label < len(choices):
                    raise DataError(f"{where}: field 'answers': {answer!r} is not one of "
                                    f"{'ABCDEFGH'[:len(choices)]}")
            examples.append(ChoiceExample(article, question, list(choices), label, where))
    return examples


def read_c3(path: str | Path) -> list[ChoiceExample]:
    examples = []
    for i, item in enumerate(_load_json(path)):
        where = f"{path}: item {i}"
        if not isinstance(item, list) or len(item) < 2:
            raise DataError(f"{where}: expected [sentences, questions, id]")
        context = "".join(item[0])
        for q, qa in enumerate(item[1]):
            choices = list(_field(qa, "choice", f"{where}.questions[{q}]"))
            answer = qa.get("answer")
            if answer is not None and answer not in choices:
                raise DataError(f"{where}.questions[{q}]: field 'answer': {answer!r} is not "
                                f"one of the choices")
            label = None if answer is None else choices.index(answer)
            examples.append(ChoiceExample(context, _field(qa, "question", where), choices,
                                          label, f"{where}.questions[{q}]"))
    return examples
