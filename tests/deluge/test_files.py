"""Tests of FILE methods and text.toFile(name) (deluge-language.md §11.1, D-64)."""

from __future__ import annotations

from typing import Any

import pytest

from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.values import DelugeList, File

from .conftest import FakeContext, call_method


@pytest.fixture
def pdf() -> File:
    return File("report.pdf", b"%PDF-1.7 \x00\xff", "application/pdf")


def test_getters(call: Any, pdf: File) -> None:
    assert call(pdf, "getFileName") == "report.pdf"
    assert call(pdf, "getParamName") == "file"  # default param name
    assert call(pdf, "getFileType") == "application/pdf"
    assert call(pdf, "getFileSize") == 11
    assert type(call(pdf, "getFileSize")) is int


def test_method_names_are_case_insensitive(call: Any, pdf: File) -> None:
    assert call(pdf, "GETFILENAME") == "report.pdf"
    assert call(pdf, "getfilesize") == 11


def test_set_file_name_and_param_name(call: Any, pdf: File) -> None:
    assert call(pdf, "setFileName", "invoice.pdf") is None
    assert call(pdf, "getFileName") == "invoice.pdf"
    assert pdf.name == "invoice.pdf"
    assert call(pdf, "setParamName", "attachment") is None
    assert call(pdf, "getParamName") == "attachment"
    # Setting the name does not change the content type.
    assert call(pdf, "getFileType") == "application/pdf"


@pytest.mark.parametrize("method", ["setFileName", "setParamName"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "expects TEXT but got null"),
        (5, "expects TEXT but got NUMBER"),
        (DelugeList(), "expects TEXT but got LIST"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("a" * 256, "exceeds 255 characters"),
        ('x"\r\nContent-Type: text/html', "must not contain control characters"),
        ("a\x00b", "must not contain control characters"),
    ],
)
def test_bad_names(call: Any, pdf: File, method: str, bad: Any, message: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=message):
        call(pdf, method, bad)
    assert pdf.name == "report.pdf"
    assert pdf.param_name == "file"


def test_name_of_255_characters_is_accepted(call: Any, pdf: File) -> None:
    call(pdf, "setFileName", "a" * 251 + ".txt")
    assert len(call(pdf, "getFileName")) == 255


def test_get_file_content_utf8(call: Any) -> None:
    f = File("notes.txt", "Grüße €".encode(), "text/plain")
    assert call(f, "getFileContent") == "Grüße €"
    assert call(f, "getFileSize") == len("Grüße €".encode())


def test_get_file_content_invalid_utf8_is_replaced(call: Any, pdf: File) -> None:
    assert call(pdf, "getFileContent") == "%PDF-1.7 \x00\ufffd"


def test_get_file_content_empty(call: Any) -> None:
    f = File("empty.bin", b"")
    assert call(f, "getFileContent") == ""
    assert call(f, "getFileSize") == 0
    assert call(f, "getFileType") == "application/octet-stream"


def test_get_file_content_limit() -> None:
    small = FakeContext(limits=Limits(text_chars=4))
    assert call_method(small, File("a", b"abcd"), "getFileContent") == "abcd"
    # 4 two-byte characters: 8 bytes but 4 characters, within the limit
    assert call_method(small, File("a", "éééé".encode()), "getFileContent") == "éééé"
    with pytest.raises(DelugeLimitError, match="Text exceeds the limit of 4 characters"):
        call_method(small, File("a", b"abcde"), "getFileContent")


def test_get_file_content_charges_memory(ctx: FakeContext, call: Any) -> None:
    call(File("big.txt", b"x" * 100_000), "getFileContent")
    assert ctx.charged >= 100_000


def test_to_file(call: Any) -> None:
    f = call("Name,Email\nAnn,ann@example.com", "toFile", "contacts.csv")
    assert type(f) is File
    assert call(f, "getFileName") == "contacts.csv"
    assert call(f, "getFileType") == "text/csv"
    assert call(f, "getParamName") == "file"
    assert call(f, "getFileContent") == "Name,Email\nAnn,ann@example.com"
    assert call(f, "getFileSize") == 30


def test_to_file_global_form(callf: Any) -> None:
    f = callf("toFile", "héllo", "greeting.txt")
    assert type(f) is File
    assert f.content == "héllo".encode()
    assert f.content_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("data.json", "application/json"),
        ("REPORT.PDF", "application/pdf"),
        ("page.html", "text/html"),
        ("image.png", "image/png"),
        ("doc.xml", "text/xml"),
        ("archive.tar.gz", "application/gzip"),
        ("backup.ZIP", "application/zip"),
        ("noextension", "text/plain"),
        ("trailingdot.", "text/plain"),
        ("file.unknownext", "text/plain"),
    ],
)
def test_to_file_content_type(call: Any, name: str, content_type: str) -> None:
    assert call("x", "toFile", name).content_type == content_type


def test_to_file_bad_name(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="expects TEXT but got null"):
        call("x", "toFile", None)
    with pytest.raises(DelugeRuntimeError, match="must not be empty"):
        call("x", "toFile", "")
    with pytest.raises(DelugeRuntimeError, match="takes 1 argument but got 0"):
        call("x", "toFile")


def test_to_file_lone_surrogate(call: Any) -> None:
    f = call("a\ud800b", "toFile", "a.txt")
    assert f.content == b"a?b"


def test_files_are_independent(call: Any) -> None:
    a = call("one", "toFile", "a.txt")
    b = call("one", "toFile", "a.txt")
    call(a, "setFileName", "changed.txt")
    assert call(b, "getFileName") == "a.txt"
