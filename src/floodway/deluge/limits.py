"""Limits of one execution (deluge-language.md §15, security.md LM); all configurable."""

from __future__ import annotations

from dataclasses import dataclass, replace

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    statements: int = 200_000
    time_s: float = 60.0
    call_depth: int = 75
    return_bytes: int = 10 * MB
    memory_bytes: int = 256 * MB
    info_entries: int = 5_000
    info_bytes: int = 1 * MB
    text_chars: int = 16 * MB
    collection_items: int = 1_000_000
    value_depth: int = 1_000
    source_bytes: int = 1 * MB
    block_depth: int = 200
    regex_timeout_s: float = 1.0
    regex_pattern_chars: int = 4_096
    invokeurl_timeout_s: float = 40.0
    invokeurl_download_bytes: int = 5 * MB
    invokeurl_daily: int = 50_000
    sendmail_daily: int = 1_000

    def with_(self, **changes: object) -> Limits:
        return replace(self, **changes)  # type: ignore[arg-type]


COMPAT_STATEMENTS = 5_000
