"""Finding where a model file nests too deeply, when tomllib cannot parse it to say."""

from __future__ import annotations

from iokit_host.machine.nesting import too_deep_error

DEEP = "[" * 1000 + "]" * 1000


def test_names_line_table_and_key() -> None:
    text = f'[machine]\nname = "x"\n\n[[nub]]\nclass = "A"\n[nub.properties]\nok = 1\nbad = {DEEP}\n'
    error = too_deep_error(text, "m.toml")
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.file == "m.toml"
    assert error.diagnostic.key == "nub.properties.bad"
    assert "line 8" in error.diagnostic.message


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    # Four lines each, valid TOML: strings of all four kinds and a comment, full of brackets.
    noise = '"[[[[", # [[[[[[\n' + "'{{{{', " + '"""\n[[[\n""", ' + "'''[[['''"
    text = "".join(f"a{i} = [{noise}]\n" for i in range(300)) + f"deep = {DEEP}\n"
    error = too_deep_error(text, None)
    assert error.diagnostic.key == "deep"
    assert "line 1201" in error.diagnostic.message


def test_multi_line_arrays_keep_their_key() -> None:
    text = "x = [\n" + "[\n" * 200 + "]\n" * 201
    error = too_deep_error(text, "f.toml")
    assert error.diagnostic.key == "x"
    assert "line 129" in error.diagnostic.message


def test_text_that_is_not_deep_still_gets_a_diagnostic() -> None:
    error = too_deep_error("a = 1\n", "f.toml")
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.file == "f.toml"


def test_a_long_string_before_the_deep_value_costs_no_memory_per_character() -> None:
    """The scanner's string patterns kept state per character: a 5 MB string in a model too
    deep to parse took 720 MB to say where."""
    import tracemalloc

    text = 'a = "' + "x" * 2_000_000 + '"\nb = """\n' + "y\n" * 500_000 + '"""\nc = ' \
        + "[" * 200 + "]" * 200 + "\n"
    tracemalloc.start()
    try:
        error = too_deep_error(text, "m.toml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "c: line 500004:" in str(error) and peak < 1 << 20  # the line after the strings
