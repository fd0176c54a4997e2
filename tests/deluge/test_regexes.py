"""Java-to-Python regular expression translation, replacements, caching and the time limit."""

from __future__ import annotations

import time
from typing import Any

import pytest

from floodway.deluge import regexes
from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.regexes import (
    compile_java,
    regex_fullmatch,
    regex_sub,
    translate,
    translate_replacement,
)


@pytest.mark.parametrize(
    ("java", "python"),
    [
        ("abc", "abc"),
        (r"(?<year>\d{4})-(?<m>\d\d)", r"(?P<year>[0-9]{4})-(?P<m>[0-9][0-9])"),
        ("(?i)abc", "(?i:abc)"),
        ("a(?i)b|c", "a(?i:b)|(?i:c)"),
        ("(a(?i)b)c", "(a(?i:b))c"),
        (r"[\p{Alpha}_]+", "[a-zA-Z_]+"),
        (r"\p{Digit}\p{L}\pN\P{L}", r"[0-9]\p{L}\p{N}\P{L}"),
        (r"\Qa.b*\E", r"a\.b\*"),
        ("x{2,3}?y*?z+?", "x{2,3}?y*?z+?"),
        (r"[^\d\s]", r"[^0-9\s]"),
        (r"^\w+@\w+\.com$", r"^\w+@\w+\.com$"),
        (r"a\z", r"a\Z"),
        ("(?<=a)b(?<!c)(?=d)(?!e)(?:f)(?>g)", "(?<=a)b(?<!c)(?=d)(?!e)(?:f)(?>g)"),
        (r"(a)\1", r"(a)(?:\1)"),
        (r"(?<n>a)\k<n>", "(?P<n>a)(?P=n)"),
        ("a{x}", r"a\{x}"),
        (r"\u00e9\x41", r"\u00e9\x41"),
    ],
)
def test_translate(java: str, python: str) -> None:
    assert translate(java) == python


@pytest.mark.parametrize(
    "java",
    [
        "a++",
        "a*+",
        "a?+",
        "a{2}+",
        r"\p{Lu}",
        r"\p{javaLowerCase}",
        "[a-z&&[def]]",
        "[a[b]]",
        "(?d)a",
        r"[\P{Alpha}]",
    ],
)
def test_unsupported(java: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Unsupported regular expression$"):
        translate(java)


def test_pattern_length_limit() -> None:
    translate("a" * 4096)
    with pytest.raises(DelugeRuntimeError, match=r"4096"):
        translate("a" * 4097)


@pytest.mark.parametrize("java", ["(a", "a)", "[abc", "*a", r"\y", "a{2,1}"])
def test_invalid_pattern(java: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"Invalid regular expression"):
        compile_java(java)


def test_replacement_translation() -> None:
    assert translate_replacement("$1-$2") == r"\g<1>-\g<2>"
    assert translate_replacement("${name}!") == r"\g<name>!"
    assert translate_replacement(r"\$5 \\ x") == r"$5 \\ x"
    assert translate_replacement("cost: $") == "cost: $"
    # With the group count known, $12 is group 12 only when it exists (Java's rule).
    assert translate_replacement("$12", groups=1) == r"\g<1>2"
    assert translate_replacement("$12", groups=12) == r"\g<12>"
    with pytest.raises(DelugeRuntimeError, match=r"No group 3"):
        translate_replacement("$3", groups=2)


class Ctx:
    def __init__(self, timeout: float = 1.0) -> None:
        self.limits = Limits(regex_timeout_s=timeout)
        self.deadline_checks = 0

    def regex_timeout(self) -> float:
        return self.limits.regex_timeout_s

    def check_deadline(self) -> None:
        self.deadline_checks += 1

    def charge(self, nbytes: int) -> None:
        pass


@pytest.fixture
def rctx() -> Any:
    return Ctx()


def test_regex_sub(rctx: Any) -> None:
    assert regex_sub(rctx, r"(?<y>\d{4})-(\d\d)", "$2/${y}", "on 2024-05 and 2025-06", 0) == (
        "on 05/2024 and 06/2025"
    )
    assert regex_sub(rctx, "o", "0", "foo boo", 1) == "f0o boo"
    assert regex_sub(rctx, "O", "0", "foo boo", 0, True) == "f00 b00"
    assert regex_sub(rctx, "a(?i)b", "-", "aB AB ab", 0) == "- AB -"
    assert regex_sub(rctx, "x", "y", "abc", 0) == "abc"
    assert regex_sub(rctx, "", "-", "abc", 0) == "-a-b-c-"
    assert regex_sub(rctx, "(a)|b", "[$1]", "ab", 0) == "[a][]"
    assert regex_sub(rctx, "[.]", "\\$", "1.5", 0) == "1$5"
    assert regex_sub(rctx, "\\s+", " ", "a \t\n b", 0) == "a b"


def test_regex_fullmatch(rctx: Any) -> None:
    assert regex_fullmatch(rctx, "^[0-9]{10}$", "9876543210")
    assert regex_fullmatch(rctx, "[A-Z]{2}[0-9]{6}[A-Z]", "ID004500F")
    assert not regex_fullmatch(rctx, "b", "abc")
    assert regex_fullmatch(rctx, r"\p{L}+", "Zoë")
    assert not regex_fullmatch(rctx, r"\d+", "١٢")  # Java's \d is ASCII digits only


def test_catastrophic_backtracking_is_stopped(rctx: Any) -> None:
    start = time.monotonic()
    with pytest.raises(DelugeLimitError, match=r"^Regular expression exceeded 1 second$"):
        regex_sub(rctx, "(x+x+)+y", "", "x" * 5000, 0)
    assert time.monotonic() - start < 2.5
    assert rctx.deadline_checks >= 1  # a timeout first checks the execution deadline


def test_fullmatch_timeout_message_uses_the_limit() -> None:
    ctx = Ctx(timeout=0.2)
    start = time.monotonic()
    with pytest.raises(DelugeLimitError, match=r"^Regular expression exceeded 0.2 seconds$"):
        regex_fullmatch(ctx, "(a|aa)+b", "a" * 5000)
    assert time.monotonic() - start < 2.0


def test_result_size_is_bounded_before_building() -> None:
    ctx = Ctx()
    ctx.limits = Limits(text_chars=100)
    assert regex_sub(ctx, "a", "bb", "a" * 40, 0) == "b" * 80
    with pytest.raises(DelugeLimitError, match=r"Text exceeds the limit of 100"):
        regex_sub(ctx, "a", "bbb", "a" * 40, 0)
    # Few matches in a long text: the exact count keeps it under the limit.
    assert regex_sub(ctx, "z", "yyyyyyyyyy", "a" * 80 + "z", 0) == "a" * 80 + "y" * 10


def test_cache_is_bounded() -> None:
    for i in range(250):
        compile_java(f"a{i}")
    assert len(regexes._cache) <= 100
    assert compile_java("a249") is compile_java("a249")
