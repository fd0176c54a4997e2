"""The ``floodway`` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__

app = typer.Typer(
    name="floodway",
    help="floodway: a self-hosted CRM functions platform running Zoho Deluge functions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _read_source(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise _usage_error(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise _usage_error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise _usage_error(f"{path}: {exc.strerror}") from None


def _parse_args(arg: list[str], args_json: str | None) -> dict[str, Any]:
    from .deluge.jsonparse import JSONSyntaxError, parse_json
    from .deluge.values import DelugeMap

    values: dict[str, Any] = {}
    if args_json is not None:
        try:
            parsed = parse_json(args_json, lenient=False)
        except JSONSyntaxError as exc:
            raise _usage_error(f"--args is not valid JSON: {exc}") from None
        if type(parsed) is not DelugeMap:
            raise _usage_error("--args must be a JSON object of argument names to values")
        values.update(parsed)
    for item in arg:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _usage_error(f"--arg '{item}' must be NAME=VALUE")
        values[name.strip()] = value
    return values


@app.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="A Deluge function file (.dg).")],
    arg: Annotated[list[str], typer.Option("--arg", help="Argument NAME=VALUE (repeatable).")] = [],  # noqa: B006
    args_json: Annotated[
        str | None, typer.Option("--args", help="Arguments as one JSON object.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the result.")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Data directory (org settings, deployed functions)."),
    ] = None,
) -> None:
    """Run a function file: info lines as they happen, then the return value."""
    from .deluge import DelugeSyntaxError, compile_program
    from .deluge import run as run_program
    from .deluge.limits import Limits
    from .functions.standalone_host import StandaloneHost
    from .settings import load_settings

    source = _read_source(file)
    values = _parse_args(arg, args_json)
    settings = load_settings(data)
    try:
        program = compile_program(source, name=file.stem)
    except DelugeSyntaxError as exc:
        if as_json:
            out = {
                "status": "failure",
                "output": None,
                "output_text": None,
                "info": [],
                "error": exc.to_json(),
                "statements": 0,
                "duration_ms": 0.0,
            }
            typer.echo(json.dumps(out, ensure_ascii=False))
        else:
            typer.echo(f"{file}:{exc.line}:{exc.column}: error: {exc.message}", err=True)
            if exc.excerpt:
                typer.echo(exc.excerpt, err=True)
        raise typer.Exit(EXIT_USAGE) from None
    host = StandaloneHost(folder=file.resolve().parent, settings=settings)
    limits = Limits(
        statements=5_000 if settings.compat_statement_limit else settings.statement_limit,
        time_s=settings.time_limit_s,
        memory_bytes=settings.memory_limit_mb * 1024 * 1024,
    )

    def stream(line: str) -> None:
        typer.echo(line)

    result = run_program(
        program, values, host, limits, tz=settings.time_zone, on_info=None if as_json else stream
    )
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        if result.status == "success":
            from .deluge.values import text_form

            if result.value is not None:
                typer.echo(text_form(result.value))
        else:
            err = result.error
            assert err is not None
            where = f"{file}:{err.line}:{err.column}: " if err.line else f"{file}: "
            typer.echo(f"{where}{err.kind} error: {err.message}", err=True)
    for mail in host.outbox:
        logging.getLogger("floodway.run").info(
            "sendmail recorded: to=%s subject=%r", ",".join(mail.to), mail.subject
        )
    raise typer.Exit(EXIT_OK if result.status == "success" else EXIT_FAILURE)


@app.command("check")
def check_command(
    files: Annotated[list[Path], typer.Argument(help="Deluge function files to check.")],
) -> None:
    """Check function files for syntax errors: PATH:LINE:COL: error: MESSAGE."""
    from .deluge.checker import check_source

    failed = False
    for path in files:
        try:
            source = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"{path}:1:1: error: cannot read file ({exc.__class__.__name__})")
            failed = True
            continue
        for diag in check_source(source, name=path.stem):
            typer.echo(f"{path}:{diag.line}:{diag.column}: {diag.severity}: {diag.message}")
            failed = failed or diag.severity == "error"
    raise typer.Exit(EXIT_FAILURE if failed else EXIT_OK)


@app.command("version")
def version_command() -> None:
    """Print the version."""
    typer.echo(f"floodway {__version__}")


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    app()


if __name__ == "__main__":
    main()
