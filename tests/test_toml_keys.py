"""Dotted keys measured before tomllib reads a file: a key of more parts than a value may
nest is found (and its line named) whatever surrounds it; strings and comments are not keys."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.toml_keys import MAX_KEY_PARTS, deep_dotted_key

_DEEP = ".".join(["a"] * (MAX_KEY_PARTS + 1))


@pytest.mark.parametrize(("text", "line"), [
    (f"x = 1\n{_DEEP} = 1\n", 2),
    (f"[{_DEEP}]\n", 1),
    (f"[[nub]]\n[nub.{_DEEP}]\n", 2),
    ("k = { " + ".".join(['"q"'] * (MAX_KEY_PARTS + 1)) + " = 1 }\n", 1),
    # After a line of escaped quotes that closes no string (not TOML, but scanned as fast).
    ('x = 1 "' + '\\"' * 200_000 + "\n" + _DEEP + " = 1\n", 2),
])
def test_a_key_of_too_many_parts_is_found_with_its_line(text: str, line: int) -> None:
    assert deep_dotted_key(text) == (line, MAX_KEY_PARTS + 1 + ("nub." in text))


@pytest.mark.parametrize("text", [
    f'x = "{_DEEP}"\n', f"x = '{_DEEP}'\n", f'x = """\n{_DEEP}\n"""\n', f"# {_DEEP}\n",
    f"x = '''{_DEEP}'''\n", ".".join(["a"] * MAX_KEY_PARTS) + " = 1\n",
    'x = "' + "ab" * 200_000 + '"\n',
    # Escaped quotes by the hundred thousand in a comment or a literal string: read once,
    # not once from each quote (that took minutes).
    '# "' + '\\"' * 200_000 + "\n", "x = '\"" + '\\"' * 200_000 + "'\n",
    'x = """' + '\\"""' * 200_000 + '"""\n',
])
def test_strings_comments_and_keys_within_the_limit_pass(text: str) -> None:
    assert deep_dotted_key(text) is None
    tomllib.loads(text)  # each is a TOML file tomllib reads


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[a-z0-9_-]{1,4}", fullmatch=True), min_size=1, max_size=300))
def test_the_limit_is_exactly_the_parts_tomllib_would_nest(parts: list[str]) -> None:
    text = ".".join(parts) + " = 1\n"
    found = deep_dotted_key(text)
    assert (found is not None) == (len(parts) > MAX_KEY_PARTS)
    if found is not None:
        assert found == (1, len(parts))
