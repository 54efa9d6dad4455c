"""The driver template's questions, and answers checked against them before copier sees them."""

from __future__ import annotations

import pytest

from iokit_host.scaffold import template_path
from iokit_host.template_questions import (
    Question,
    TemplateAnswerError,
    check_answers,
    read_questions,
)


def test_the_real_templates_questions_with_their_types_and_conditions() -> None:
    questions = read_questions(template_path())
    assert list(questions)[:3] == ["name", "package", "class_name"]
    assert not any(name.startswith("_") for name in questions)  # copier settings are not asked
    assert questions["id_vendor"].type == "int"
    assert questions["id_vendor"].condition == "provider_class == 'IOUSBHostDevice'"
    assert questions["name"].when is None


QUESTIONS = {q.name: q for q in (Question("count", "int", "how many"), Question("ratio", "float"),
                                 Question("enabled", "bool"), Question("label"))}


@pytest.mark.parametrize(("given", "wanted"), [
    ({"count": "12"}, {"count": 12}), ({"count": "0x1f"}, {"count": 31}),
    ({"count": "010"}, {"count": 10}), ({"count": 7}, {"count": 7}),
    ({"ratio": "2.5"}, {"ratio": 2.5}), ({"enabled": "yes"}, {"enabled": True}),
    ({"enabled": "Off"}, {"enabled": False}), ({"label": "0x1"}, {"label": "0x1"}),
])
def test_text_answers_take_their_questions_type(given: dict[str, object],
                                                wanted: dict[str, object]) -> None:
    assert check_answers(given, QUESTIONS) == wanted


@pytest.mark.parametrize(("given", "message"), [
    ({"count": "many"}, "count: 'many' is not an integer"),
    ({"count": True}, "count: True is not an integer"),
    ({"count": [1]}, "count: [1] is not an integer"),
    ({"ratio": "fast"}, "ratio: 'fast' is not a number"),
    ({"enabled": "maybe"}, "enabled: 'maybe' is not true or false"),
    ({"label": 3}, "label: 3 is not text"),
])
def test_a_wrong_type_names_the_question(given: dict[str, object], message: str) -> None:
    with pytest.raises(TemplateAnswerError) as raised:
        check_answers(given, QUESTIONS)
    assert raised.value.ref == "new-invalid-answer"
    assert message in str(raised.value)


def test_an_unknown_question_gets_the_nearest_name() -> None:
    with pytest.raises(TemplateAnswerError) as raised:
        check_answers({"cuont": "1"}, QUESTIONS)
    assert raised.value.ref == "new-unknown-question"
    assert raised.value.diagnostic.hint is not None
    assert raised.value.diagnostic.hint.startswith("did you mean 'count'?")
    with pytest.raises(TemplateAnswerError) as far:
        check_answers({"zzzzzz": "1"}, QUESTIONS)
    assert "did you mean" not in str(far.value) and "the questions are: count" in str(far.value)
