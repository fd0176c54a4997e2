"""Errors a Deluge program can meet: syntax, runtime (catchable) and limit (not catchable).

Errors are values with a kind, a message a user can act on and a location in the Deluge source.
Built-ins raise them without a location; the runtime fills in the line and column of the
statement that was executing (see ``runtime.locate``).
"""

from __future__ import annotations


class DelugeError(Exception):
    """Base class of every error reported to a Deluge user."""

    kind = "runtime"

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def at(self, line: int | None, column: int | None) -> DelugeError:
        """Attach a location unless one is already known."""
        if self.line is None:
            self.line, self.column = line, column
        return self

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}, column {self.column}: {self.message}"


class DelugeSyntaxError(DelugeError):
    """The source is not valid Deluge; the function never starts."""

    kind = "syntax"

    def __init__(
        self,
        message: str,
        line: int,
        column: int,
        *,
        expected: str | None = None,
        found: str | None = None,
        source_line: str = "",
        warning: bool = False,
    ) -> None:
        super().__init__(message, line, column)
        self.expected = expected
        self.found = found
        self.source_line = source_line
        self.warning = warning

    @property
    def excerpt(self) -> str:
        """The offending source line with a caret under the column."""
        if not self.source_line:
            return ""
        prefix = "".join(
            "\t" if ch == "\t" else " " for ch in self.source_line[: (self.column or 1) - 1]
        )
        return f"{self.source_line}\n{prefix}^"


class DelugeRuntimeError(DelugeError):
    """A failed operation; ``try { } catch (e) { }`` catches it with ``e`` = the message."""

    kind = "runtime"


class DelugeLimitError(DelugeError):
    """A limit of the execution was exceeded; never catchable from Deluge."""

    kind = "limit"


class DelugeInternalError(DelugeError):
    """An unexpected failure inside floodway; details go to the server log only."""

    kind = "internal"
