"""One redactor for execution records, logs and audit summaries (security.md SEC-6, AU-5).

Two mechanisms, because neither is enough alone:

- **By name.** Query parameters, headers, mapping keys and ``name=value`` / ``name: value``
  text whose name looks like a credential (``pass``, ``secret``, ``token``, ``api key``,
  ``auth``, ``cookie``, ``session``, ``signature``, ...) have their value replaced by ``****``;
  URL user-info is removed. This catches secrets nobody told us about.
- **By value.** Secret values the process knows (connection secrets, tokens it fetched) are
  registered in a process-wide ``SecretRegistry``; every occurrence in any text becomes
  ``****`` - also their URL-encoded, JSON-escaped and Base64 forms, because that is how they
  show up in URLs, JSON log lines and ``Authorization: Basic`` headers. This catches secrets
  that appear where no name announces them (an echoed request body, an error message).

The logging hooks (``install_log_redaction`` for the standard library, ``redact_processor`` for
structlog) run every log record through both.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, overload
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "Redactor",
    "SecretRegistry",
    "install_log_redaction",
    "is_sensitive_name",
    "is_sensitive_param",
    "redact",
    "redact_data",
    "redact_headers",
    "redact_processor",
    "redact_url",
    "registered",
    "registry",
    "secret_forms",
    "uninstall_log_redaction",
]

MASK = "****"
# Shorter values are not masked by value: masking every "abc" would make logs unreadable and a
# three-character secret is not protected by masking anyway. Names still mask them.
MIN_SECRET_LENGTH = 4
# Base64 fragments of a secret at a shifted alignment are only masked when at least this long,
# so short fragments do not blot out unrelated Base64 data.
_MIN_SHIFTED_CORE = 8

# SEC-6's names, plus a few common spellings (credential, private key, access key). "author"
# is not "auth".
_NAME_CORE = (
    r"pass|secret|token|api.?key|auth(?!ors?(?![a-z]))|cookie|session|signature|credential"
    r"|private.?key|access.?key|client.?key"
)
_SENSITIVE_NAME = re.compile(rf"(?i){_NAME_CORE}|^(?:key|sig)$|[_.-]key$")
# Query parameters are judged more broadly: "key=" is almost always an API key there, and
# "code=" is an OAuth authorisation code (in free text and JSON, "code" is an error code).
_SENSITIVE_PARAM = re.compile(rf"(?i){_NAME_CORE}|key|^(?:code|sig)$")

_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s\"'<>`]+")
_AUTH_SCHEME = re.compile(
    r"(?i)\b(bearer|basic|digest|negotiate|zoho-oauthtoken)(\s+)[A-Za-z0-9._~+/=-]{4,}"
)
# The lookbehind starts a name only at a word boundary and the name is bounded, so a long run of
# letters and digits is scanned once, not once per starting position (quadratic otherwise).
_NAME_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,63})"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>(?:(?:bearer|basic|digest|negotiate|zoho-oauthtoken)\s+)?[^\s\"'&,;)}\]]+)",
    re.IGNORECASE,
)
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def is_sensitive_name(name: str) -> bool:
    """Whether a header, argument or mapping key names a credential (SEC-6)."""
    return bool(_SENSITIVE_NAME.search(name))


def is_sensitive_param(name: str) -> bool:
    """Whether a URL query parameter names a credential (also ``key`` and ``code``)."""
    return bool(_SENSITIVE_PARAM.search(name))


# ---------------------------------------------------------------------------------------------
# Secret values and their forms


def _b64_cores(data: bytes) -> set[str]:
    """Base64 text that must appear wherever ``data`` is Base64-encoded inside other bytes.

    For each of the three alignments, encode ``data`` behind 0-2 filler bytes and keep only the
    characters made entirely of ``data``'s bits: those are the same whatever surrounds it (e.g.
    the password inside ``user:password`` of a Basic header).
    """
    cores: set[str] = set()
    bits = 8 * len(data)
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data + b"\0\0")
        start_bit, end_bit = 8 * shift, 8 * shift + bits
        first = -(-start_bit // 6)  # ceil
        last = end_bit // 6  # chars [first, last) lie wholly inside data's bits
        core = encoded[first:last].decode("ascii")
        if shift == 0 or len(core) >= _MIN_SHIFTED_CORE:
            for form in (core, core.replace("+", "-").replace("/", "_")):
                if len(form) >= MIN_SECRET_LENGTH:
                    cores.add(form)
    return cores


def secret_forms(value: str) -> set[str]:
    """The spellings of a secret that the redactor masks: raw, URL, JSON and Base64 forms."""
    if len(value) < MIN_SECRET_LENGTH:
        return set()
    raw = value.encode("utf-8")
    forms = {value}
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value)):
        forms.add(encoded)
        forms.add(_PERCENT_HEX.sub(lambda m: m.group(0).lower(), encoded))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = b64.decode("ascii")
        forms.add(text)
        forms.add(text.rstrip("="))
    forms |= _b64_cores(raw)
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


def _compile(forms: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first: alternation takes the first alternative that matches at a position.
    ordered = sorted(set(forms), key=lambda f: (-len(f), f))
    if not ordered:
        return None
    return re.compile("|".join(re.escape(f) for f in ordered))


class SecretRegistry:
    """Secret values known to this process; every form of each is masked in any text.

    Registration is counted, so two executions using the same connection can register and
    unregister independently. Thread-safe; lookups never take the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._pattern: re.Pattern[str] | None = None

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:  # never the values
        return f"SecretRegistry({len(self._counts)} secrets)"

    def register(self, *values: str | None) -> None:
        """Mask these values from now on (values shorter than 4 characters are ignored)."""
        with self._lock:
            changed = False
            for value in values:
                if not value or len(value) < MIN_SECRET_LENGTH:
                    continue
                changed |= value not in self._counts
                self._counts[value] = self._counts.get(value, 0) + 1
            if changed:
                self._rebuild()

    def unregister(self, *values: str | None) -> None:
        """Undo one ``register`` of each value."""
        with self._lock:
            changed = False
            for value in values:
                if not value or value not in self._counts:
                    continue
                self._counts[value] -= 1
                if self._counts[value] <= 0:
                    del self._counts[value]
                    changed = True
            if changed:
                self._rebuild()

    @contextmanager
    def registered(self, *values: str | None) -> Iterator[None]:
        """Mask the values for the duration of a block (e.g. one execution)."""
        self.register(*values)
        try:
            yield
        finally:
            self.unregister(*values)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._pattern = None

    def _rebuild(self) -> None:
        forms: set[str] = set()
        for value in self._counts:
            forms |= secret_forms(value)
        self._pattern = _compile(forms)

    def mask(self, text: str, extra: re.Pattern[str] | None = None) -> str:
        """``text`` with every form of every registered secret (and ``extra``'s) masked."""
        if extra is not None:
            text = extra.sub(MASK, text)
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return text


registry = SecretRegistry()
"""The process-wide registry every redaction consults."""


def registered(*values: str | None) -> AbstractContextManager[None]:
    """``with registered(secret, token): ...`` on the process-wide registry."""
    return registry.registered(*values)


# ---------------------------------------------------------------------------------------------
# Redaction


def _mask_pairs(text: str, judge: Callable[[str], bool]) -> str:
    """``a=1&token=x`` -> ``a=1&token=****``, keeping every other byte as it was."""
    pieces = text.split("&")
    for i, piece in enumerate(pieces):
        name, sep, value = piece.partition("=")
        if not sep or not value:
            continue
        if judge(unquote_plus(name)):
            pieces[i] = f"{name}={MASK}"
    return "&".join(pieces)


def _redact_url_structure(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable (e.g. a broken IPv6 literal): still drop user-info and mask the query.
        url = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@]*@", r"\1", url)
        base, sep, rest = url.partition("?")
        return base + sep + _mask_pairs(rest, is_sensitive_param) if sep else url
    netloc = parts.netloc.rpartition("@")[2]
    query = _mask_pairs(parts.query, is_sensitive_param)
    fragment = parts.fragment
    if "=" in fragment:  # OAuth implicit flow puts tokens in the fragment
        fragment = _mask_pairs(fragment, is_sensitive_param)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _name_value(match: re.Match[str]) -> str:
    if is_sensitive_name(match.group("name")) and match.group("value") != MASK:
        return f"{match.group('name')}{match.group('sep')}{MASK}"
    return match.group(0)


class Redactor:
    """The SEC-6 redactor with extra secret values (e.g. one execution's connection secrets).

    Build one per execution or request: the extra values' forms are compiled once. The
    process-wide ``registry`` is always consulted too.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for value in secrets:
            if value:
                forms |= secret_forms(value)
        self._extra = _compile(forms)

    def __repr__(self) -> str:
        return "Redactor()"

    def _mask(self, text: str) -> str:
        return registry.mask(text, self._extra)

    def text(self, text: str) -> str:
        """Free text: known values, credentials in URLs, ``Bearer``/``Basic`` values and
        ``name=value`` / ``name: value`` pairs whose name looks secret."""
        if not isinstance(text, str):
            text = str(text)
        text = self._mask(text)
        text = _URL_IN_TEXT.sub(lambda m: _redact_url_structure(m.group(0)), text)
        text = _NAME_VALUE.sub(_name_value, text)
        text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        # Again at the end: removing user-info joins text, which must not spell a secret.
        return self._mask(text)

    def url(self, url: str) -> str:
        """A URL: user-info removed, credential query parameters ``****``, known values."""
        return self._mask(_redact_url_structure(self._mask(url)))

    def header(self, name: str, value: str) -> str:
        return MASK if is_sensitive_name(name) else self.text(value)

    def headers(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> dict[str, str] | list[tuple[str, str]]:
        if isinstance(headers, Mapping):
            return {k: self.header(k, v) for k, v in headers.items()}
        return [(k, self.header(k, v)) for k, v in headers]

    def data(self, value: Any) -> Any:
        """A JSON-like value: secret-named mapping entries ``****``, strings as text."""
        return self._walk(value, 0)

    def _walk(self, v: Any, depth: int) -> Any:
        if depth > 64:  # deeper nesting is not something a log needs verbatim
            return MASK
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, Mapping):
            return {
                k: MASK if isinstance(k, str) and is_sensitive_name(k) else self._walk(x, depth + 1)
                for k, x in v.items()
            }
        if isinstance(v, list | tuple):
            return [self._walk(x, depth + 1) for x in v]
        if isinstance(v, bytes | bytearray):
            return self.text(bytes(v).decode("utf-8", "replace"))
        return v


_PLAIN = Redactor()


def _redactor(secrets: Iterable[str | None]) -> Redactor:
    secrets = list(secrets)
    return Redactor(secrets) if secrets else _PLAIN


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask secrets in free text (see ``Redactor.text``)."""
    return _redactor(secrets).text(text)


def redact_url(url: str, secrets: Iterable[str | None] = ()) -> str:
    """A URL fit for a log line: user-info removed, credential query parameters ``****``."""
    return _redactor(secrets).url(url)


@overload
def redact_headers(
    headers: Mapping[str, str], secrets: Iterable[str | None] = ()
) -> dict[str, str]: ...
@overload
def redact_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str | None] = ()
) -> list[tuple[str, str]]: ...
def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], secrets: Iterable[str | None] = ()
) -> dict[str, str] | list[tuple[str, str]]:
    """Headers fit for a record: credential headers (Authorization, Cookie, Set-Cookie,
    Proxy-Authorization, X-Api-Key, X-Auth-Token, ...) become ``****``; others are redacted
    as text. A mapping gives a dict, pairs give a list."""
    return _redactor(secrets).headers(headers)


def redact_data(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """A JSON-like value (arguments, outputs, log events) with secrets masked.

    Mapping entries whose key looks secret become ``****`` whatever their value; strings are
    redacted as text; lists, tuples and mappings are copied; other values pass unchanged.
    """
    return _redactor(secrets).data(value)


# ---------------------------------------------------------------------------------------------
# Logging (AU-5)


def _redact_record(record: logging.LogRecord) -> None:
    if getattr(record, "_floodway_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: show it, redacted, rather than lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and record.exc_info[0] is not None:
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # handlers that render exc_info themselves cannot leak
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._floodway_redacted = True


class RedactingFilter(logging.Filter):
    """A ``logging`` filter (attach to handlers) that redacts each record in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


_factory_lock = threading.Lock()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install_log_redaction() -> None:
    """Redact every standard-library log record as it is created, whatever its handler.

    Installed as the record factory, so handlers added later (uvicorn's, a test's) are
    covered too. Idempotent.
    """
    global _previous_factory
    with _factory_lock:
        if _previous_factory is not None:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        _previous_factory = previous
        logging.setLogRecordFactory(factory)


def uninstall_log_redaction() -> None:
    """Restore the record factory ``install_log_redaction`` replaced."""
    global _previous_factory
    with _factory_lock:
        if _previous_factory is not None:
            logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None


def redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: put it after ``format_exc_info`` and before the renderer."""
    redacted = redact_data(dict(event_dict))
    event_dict.clear()
    event_dict.update(redacted)
    return event_dict
