"""The driver template's questions (``copier.yml``): their names, types and when each is asked,
and answers checked against them (the options sheet of Xcode's driver template).

copier itself takes any key as data: a misspelt question (``id_vender``) is silently ignored
and its default (Apple's vendor id) used, and ``probe_score=abc`` fails with Python's
``int()`` message that names no question. :func:`check_answers` refuses an unknown key with
the nearest question's name and converts each text answer to its question's type (``0x46d``
is an ``int`` too), naming the question when it cannot. A text answer is one line of UTF-8
(no control characters): the template writes it into TOML, Python and plist strings, where a
newline or a byte the shell could not decode would break the file.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iokit_host.errors import IOKitError, did_you_mean

__all__ = ["Question", "TemplateAnswerError", "check_answers", "read_questions"]

_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


class TemplateAnswerError(IOKitError):
    reference = "new-invalid-answer"


@dataclass(frozen=True, slots=True)
class Question:
    """One template question: ``type`` is copier's (str, int, float, bool, yaml, json);
    ``when`` the Jinja condition under which it is asked, None when always."""

    name: str
    type: str = "str"
    help: str = ""
    when: str | None = None

    @property
    def condition(self) -> str:
        """``when`` without its Jinja braces, for messages."""
        text = (self.when or "").strip()
        return text.removeprefix("{{").removesuffix("}}").strip()


def read_questions(template: Path) -> dict[str, Question]:
    """The questions of the template whose ``copier.yml`` is in ``template``, in order."""
    import yaml  # type: ignore[import-untyped]  # copier's own dependency; no stubs here

    config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8")) or {}
    questions: dict[str, Question] = {}
    for name, spec in config.items():
        if name.startswith("_"):
            continue  # copier's settings, not questions
        spec = spec if isinstance(spec, dict) else {"default": spec}
        when = spec.get("when")
        questions[name] = Question(name, str(spec.get("type", "str")),
                                   str(spec.get("help", "")),
                                   None if when is None else str(when))
    return questions


def check_answers(answers: Mapping[str, Any], questions: Mapping[str, Question]
                  ) -> dict[str, Any]:
    """``answers`` with each value converted to its question's type.

    :raises TemplateAnswerError: ``new-unknown-question`` for a key the template does not
        ask (with the nearest question), ``new-invalid-answer`` for a value of the wrong type.
    """
    checked: dict[str, Any] = {}
    for key, value in answers.items():
        question = questions.get(key)
        if question is None:
            raise _unknown(key, questions)
        checked[key] = _convert(question, value)
    return checked


def _unknown(key: str, questions: Mapping[str, Question]) -> TemplateAnswerError:
    guess = did_you_mean(key, list(questions))
    known = ", ".join(questions)
    hint = (f"{guess} " if guess else "") + f"the questions are: {known}"
    return TemplateAnswerError(f"the driver template has no question '{key}'", key=key,
                               reference="new-unknown-question", hint=hint)


def _convert(question: Question, value: Any) -> Any:
    if not isinstance(value, str):
        expected: dict[str, type | tuple[type, ...]] = {
            "int": int, "float": (int, float), "bool": bool, "str": str}
        wanted = expected.get(question.type)
        if wanted is not None and (not isinstance(value, wanted)
                                   or (question.type == "int" and isinstance(value, bool))):
            raise _wrong_type(question, value)
        return value
    text = value.strip()
    try:
        if question.type == "int":
            return int(text) if text.lstrip("+-").isdigit() else int(text, 0)
        if question.type == "float":
            return float(text)
    except ValueError:
        raise _wrong_type(question, value) from None
    if question.type == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _wrong_type(question, value)
    if question.type == "str":
        _check_text(question, value)
    return value


def _check_text(question: Question, value: str) -> None:
    """A text answer must be one line of UTF-8 the rendered files can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # argv bytes the locale could not decode (surrogate escapes)
        raise TemplateAnswerError(
            f"{value[:80]!r} is not UTF-8 text (\\udcXX: a byte the shell could not decode)",
            key=question.name, hint="give the answer in UTF-8") from None
    control = next((char for char in value if unicodedata.category(char) == "Cc"), None)
    if control is not None:
        raise TemplateAnswerError(
            f"{value[:80]!r} holds the control character {control!r}", key=question.name,
            hint="an answer is one line of printable text")


def _wrong_type(question: Question, value: Any) -> TemplateAnswerError:
    kinds = {"int": "an integer (decimal or 0x hexadecimal)", "float": "a number",
             "bool": "true or false", "str": "text"}
    kind = kinds.get(question.type, question.type)
    return TemplateAnswerError(f"{value!r} is not {kind}", key=question.name,
                               hint=f"{question.name}: {question.help}" if question.help
                               else f"give {question.name} {kind}")
