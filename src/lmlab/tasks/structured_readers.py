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

from lmlab.data.corpus import decode_text
from lmlab.errors import DataError
from lmlab.tasks.examples import ChoiceExample, QAExample, TaggedExample


def _open_text(path: str | Path):
    """A text handle on ``path`` (or ``archive.zip!member``), decoded as UTF-8."""
    text = str(path)
    try:
        if ".zip!" in text:
            archive, member = text.split(".zip!", 1)
            data = zipfile.ZipFile(archive + ".zip").read(member)
        else:
            data = Path(text).read_bytes()
    except (FileNotFoundError, KeyError):
        raise DataError(f"{text}: no such file (or member)") from None
    except zipfile.BadZipFile as error:
        raise DataError(f"{text}: not a readable zip archive ({error})") from None
    return io.StringIO(decode_text(data, text), newline=None)  # universal newlines, as open()


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


def _field(item, key: str, where: str, expected: type | tuple = object):
    """``item[key]``, checked to be a JSON object's field of type ``expected``."""
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object with field {key!r}, found "
                        f"{_json_type(item)}")
    if key not in item:
        raise DataError(f"{where}: missing field {key!r}")
    value = item[key]
    if not isinstance(value, expected):
        raise DataError(f"{where}: field {key!r}: expected {_json_type(expected)}, found "
                        f"{_json_type(value)}")
    return value


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "true/false", type(None): "null"}


def _json_type(value) -> str:
    """``"a list"`` for a list (or for ``list`` itself); ``"a string or a list"`` for a tuple."""
    if isinstance(value, tuple):
        return " or ".join(_json_type(v) for v in value)
    kind = value if isinstance(value, type) else type(value)
    return _JSON_NAMES.get(kind, kind.__name__)


def _strings(value, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: expected a list of strings, found {_json_type(value)}")
    return value


def read_squad(path: str | Path) -> list[QAExample]:
    data = _field(_load_json(path), "data", str(path), list)
    examples = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(_field(article, "paragraphs", f"{path}: data[{a}]", list)):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", where, str)
            for q, qa in enumerate(_field(paragraph, "qas", where, list)):
                at = f"{where}.qas[{q}]"
                answers = []
                given = qa.get("answers", []) if isinstance(qa, dict) else None
                if not isinstance(given, list):
                    _field(qa, "answers", at, list)  # raises, naming what was found
                for n, answer in enumerate(given):
                    text = _field(answer, "text", f"{at}.answers[{n}]", str)
                    start = _field(answer, "answer_start", f"{at}.answers[{n}]")
                    if not isinstance(start, int) or context[start:start + len(text)] != text:
                        # Some MRC sets (CMRC 2018) carry -1 or shifted offsets: re-find.
                        start = context.find(text)
                    answers.append((text, start))
                examples.append(QAExample(str(_field(qa, "id", at, (str, int))),
                                          _field(qa, "question", at, str), context, answers, at))
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
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((f"{path}:{n}", json.loads(line)))
                except json.JSONDecodeError as error:
                    raise DataError(f"{path}:{n}: not valid JSON (nor a JSON document): "
                                    f"{error.msg}") from None
        return items
    if isinstance(data, dict):
        data = data.get("data", [data])
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a RACE item, a list of them or {{\"data\": [...]}}, "
                        f"found {_json_type(data)}")
    return [(f"{path}: item {i}", item) for i, item in enumerate(data)]


def _answer_index(answer, choices: list[str], where: str) -> int:
    letter = answer.strip() if isinstance(answer, str) else None
    label = "ABCDEFGH".find(letter) if letter and len(letter) == 1 else -1
    if not 0 <= label < len(choices):
        raise DataError(f"{where}: field 'answers': {answer!r} is not one of "
                        f"{'ABCDEFGH'[:len(choices)]}")
    return label


def read_race(path: str | Path) -> list[ChoiceExample]:
    examples = []
    for where, item in _race_items(Path(path)):
        article = _field(item, "article", where, str)
        questions = _strings(_field(item, "questions", where, list), f"{where}: field 'questions'")
        options = _field(item, "options", where, list)
        answers = item.get("answers") or [None] * len(questions)
        if not isinstance(answers, list):
            raise DataError(f"{where}: field 'answers': expected a list of letters, found "
                            f"{_json_type(answers)}")
        if not (len(questions) == len(options) == len(answers)):
            raise DataError(f"{where}: field 'options': {len(questions)} questions but "
                            f"{len(options)} option lists and {len(answers)} answers")
        for n, (question, choices, answer) in enumerate(zip(questions, options, answers)):
            choices = _strings(choices, f"{where}: field 'options'[{n}]")
            label = None if answer is None else _answer_index(answer, choices, where)
            examples.append(ChoiceExample(article, question, list(choices), label, where))
    return examples


def read_c3(path: str | Path) -> list[ChoiceExample]:
    examples = []
    items = _load_json(path)
    if not isinstance(items, list):
        raise DataError(f"{path}: expected a list of [sentences, questions, id] items, found "
                        f"{_json_type(items)}")
    for i, item in enumerate(items):
        where = f"{path}: item {i}"
        if not isinstance(item, list) or len(item) < 2 or not isinstance(item[1], list):
            raise DataError(f"{where}: expected [sentences, questions, id]")
        context = "".join(_strings(item[0], f"{where}: sentences"))
        for q, qa in enumerate(item[1]):
            at = f"{where}.questions[{q}]"
            choices = _strings(_field(qa, "choice", at, list), f"{at}: field 'choice'")
            answer = qa.get("answer")
            if answer is not None and answer not in choices:
                raise DataError(f"{at}: field 'answer': {answer!r} is not one of the choices")
            label = None if answer is None else choices.index(answer)
            examples.append(ChoiceExample(context, _field(qa, "question", at, str), choices,
                                          label, at))
    return examples
