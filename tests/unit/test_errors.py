"""Messages quote manifest text; ``printable`` keeps that text from driving the terminal."""

from __future__ import annotations

import pytest

from certctl.errors import ManifestError, ManifestProblem, printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param("\x1b[2J", "\\x1b[2J", id="an escape sequence is shown, not run"),
        pytest.param("ding\x07", "ding\\x07", id="a bell is shown, not rung"),
        pytest.param("a\x00b", "a\\x00b", id="a nul is shown"),
        pytest.param("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d", id="line breaks cannot split a problem"),
        pytest.param("\x9b2J", "\\x9b2J", id="a c1 control sequence introducer is shown"),
        pytest.param("www\u2028x", "www\\u2028x", id="a line separator is shown"),
        pytest.param("abc\u202edef", "abc\\u202edef", id="a bidi override cannot reorder text"),
        pytest.param("\ufeffname", "\\ufeffname", id="a byte order mark is made visible"),
        pytest.param("bücher 日本", "bücher 日本", id="letters of any script are left alone"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_manifest_problem_never_carries_a_raw_control_character() -> None:
    problem = ManifestProblem(
        "dir/\x1b]0;x\x07.yaml", 3, "metadata.labels.\x1b[1m", 'bad "\x1b[2J"'
    )

    rendered = ManifestError([problem]).paragraph()

    assert "\x1b" not in rendered and "\x07" not in rendered
    assert 'dir/\\x1b]0;x\\x07.yaml:3: metadata.labels.\\x1b[1m: bad "\\x1b[2J"' in rendered
