"""Methods of FILE values and ``text.toFile(name)`` (deluge-language.md §11.1, D-64).

A FILE holds a name, a content type, a multipart parameter name and bytes. Names end up in
``Content-Disposition`` headers of multipart requests and mails, so control characters are refused
here rather than trusted to every later consumer.
"""

from __future__ import annotations

import mimetypes
from typing import Any, Final

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..registry import method
from ..values import FILE, TEXT, File, check_number, type_name

MAX_NAME_CHARS: Final = 255
_CHARGE_FROM: Final = 4096
DEFAULT_CONTENT_TYPE: Final = "text/plain"

# A private table with Python's built-in types only: the result does not depend on the host's
# /etc/mime.types, and no file is read while a function runs (security.md SB-10).
_MIME: Final = mimetypes.MimeTypes()
# mimetypes reads these suffixes as content encodings, but a file with them is the archive itself.
_COMPRESSED: Final = {
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
}


def guess_content_type(name: str) -> str:
    """Content type from the name's extension (``report.pdf`` -> ``application/pdf``)."""
    dot = name.rfind(".")
    if dot < 0 or dot == len(name) - 1:
        return DEFAULT_CONTENT_TYPE
    ext = name[dot:].lower()
    guessed = (
        _COMPRESSED.get(ext) or _MIME.types_map[True].get(ext) or _MIME.types_map[False].get(ext)
    )
    return guessed or DEFAULT_CONTENT_TYPE


def _check_name(fname: str, what: str, v: Any) -> str:
    if type(v) is not str:
        raise DelugeRuntimeError(f"'{fname}' expects TEXT but got {type_name(v)}")
    if not v.strip():
        raise DelugeRuntimeError(f"The {what} must not be empty")
    if len(v) > MAX_NAME_CHARS:
        raise DelugeRuntimeError(f"The {what} exceeds {MAX_NAME_CHARS} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in v):
        raise DelugeRuntimeError(f"The {what} must not contain control characters")
    return v


@method(FILE, "getFileName")
def get_file_name(ctx: Context, f: File) -> str:
    return f.name


@method(FILE, "setFileName")
def set_file_name(ctx: Context, f: File, name: Any) -> None:
    f.name = _check_name("setFileName", "file name", name)


@method(FILE, "getParamName")
def get_param_name(ctx: Context, f: File) -> str:
    return f.param_name


@method(FILE, "setParamName")
def set_param_name(ctx: Context, f: File, name: Any) -> None:
    f.param_name = _check_name("setParamName", "parameter name", name)


@method(FILE, "getFileType")
def get_file_type(ctx: Context, f: File) -> str:
    return f.content_type


@method(FILE, "getFileContent")
def get_file_content(ctx: Context, f: File) -> str:
    """The content as TEXT, decoded as UTF-8; bytes that are not UTF-8 become U+FFFD."""
    limit = ctx.limits.text_chars
    # Decoding never gives more characters than there are bytes: check the cheap bound first.
    if len(f.content) > limit:
        ctx.check_deadline()
        text = f.content.decode("utf-8", "replace")
        if len(text) > limit:
            raise DelugeLimitError(f"Text exceeds the limit of {limit} characters")
    else:
        text = f.content.decode("utf-8", "replace")
    if len(text) > _CHARGE_FROM:
        ctx.charge(len(text))
    return text


@method(FILE, "getFileSize")
def get_file_size(ctx: Context, f: File) -> int:
    return check_number(len(f.content))


@method(TEXT, "toFile")
def to_file(ctx: Context, text: str, name: Any) -> File:
    """A FILE holding the UTF-8 bytes of the text; the content type is guessed from the name."""
    file_name = _check_name("toFile", "file name", name)
    # A lone surrogate encodes as `?` (as Java does) instead of raising.
    content = text.encode("utf-8", "replace")
    if len(content) > _CHARGE_FROM:
        ctx.charge(len(content))
    return File(file_name, content, guess_content_type(file_name))
