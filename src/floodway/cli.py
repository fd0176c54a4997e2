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
    if data is not None:
        _run_on_org(file, program, values, data, as_json)  # raises typer.Exit
    # D-26: validation functions run inside a save (10 s), schedules may run 15 minutes.
    time_s = {
        "validation": settings.validation_time_limit_s,
        "schedule": settings.schedule_time_limit_s,
    }.get(program.category, settings.time_limit_s)
    limits = Limits(
        statements=5_000 if settings.compat_statement_limit else settings.statement_limit,
        time_s=time_s,
        memory_bytes=settings.memory_limit_mb * 1024 * 1024,
    )
    host = StandaloneHost(folder=file.resolve().parent, settings=settings, limits=limits)

    def stream(line: str) -> None:
        typer.echo(line)

    try:
        result = run_program(
            program,
            values,
            host,
            limits,
            tz=settings.time_zone,
            month_first=settings.month_first,
            on_info=None if as_json else stream,
        )
    finally:
        host.close()
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


# ---- server and administration commands (REST API issue) -------------------------------------

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data directory (created and initialised when missing)."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL URL (postgresql+psycopg://...); default: SQLite in the data directory.",
    ),
]


def _open_crm(data: Path | None, database_url: str | None) -> Any:
    return _open(data, database_url).crm


def _open(data: Path | None, database_url: str | None) -> Any:
    from .server import StartupError, open_crm
    from .settings import load_settings

    settings = load_settings(data)
    try:
        opened = open_crm(settings, database_url=database_url)
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if opened.created and opened.admin_password:
        typer.echo(
            f"floodway: initialised a new org; admin {opened.admin_email} "
            f"password: {opened.admin_password} (shown once)",
            err=True,
        )
    return opened


@app.command("serve")
def serve_command(
    data: DataOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8000,
    database_url: DatabaseUrlOption = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Run no jobs in this process (separate `floodway worker` processes run them).",
        ),
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Install sample data, functions and automation first.")
    ] = False,
) -> None:
    """Serve the CRM, its Zoho-compatible REST API and OAuth endpoints, and run background
    jobs (workflow actions, schedules, webhooks) unless --no-worker is given."""
    from .server import StartupError, serve
    from .settings import load_settings

    logging.getLogger("floodway").setLevel(logging.INFO)
    settings = load_settings(data)

    try:
        serve(
            settings,
            host=host,
            port=port,
            database_url=database_url,
            echo=_echo_flushed,
            worker=False if no_worker else None,
            demo=demo,
        )
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None


def _echo_flushed(line: str) -> None:
    typer.echo(line)
    sys.stdout.flush()


@app.command("worker")
def worker_command(
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=256, help="Job threads (default: 4)."),
    ] = None,
) -> None:
    """Run background jobs (workflow actions, schedules, webhooks) and deliver mail, without
    the HTTP server; any number of workers may share one database. SIGTERM stops it after the
    jobs in progress."""
    from .server import StartupError, work
    from .settings import load_settings

    logging.getLogger("floodway").setLevel(logging.INFO)
    settings = load_settings(data)
    try:
        work(settings, database_url=database_url, concurrency=concurrency, echo=_echo_flushed)
    except StartupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None


@app.command("migrate")
def migrate_command(data: DataOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Bring the database schema to the newest version (also done by every start)."""
    from .db import DEFAULT_DATA_DIR, create_engine_for, ensure_schema, init_data_dir
    from .settings import load_settings

    settings = load_settings(data)
    data_dir = Path(settings.data or DEFAULT_DATA_DIR)
    init_data_dir(data_dir)
    url = database_url or getattr(settings, "database_url", None)
    engine = create_engine_for(settings, database_url=url, data_dir=data_dir)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()
    typer.echo("floodway: database schema is up to date")


clients_app = typer.Typer(help="OAuth clients of the REST API.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")


@clients_app.command("create")
def clients_create_command(
    name: Annotated[str, typer.Argument(help="A name for the client.")],
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a self client acting as the admin with every scope; prints its refresh token once."""
    crm = _open_crm(data, database_url)
    created = crm.oauth.create_self_client(name)
    out = {k: created[k] for k in ("client_id", "client_secret", "refresh_token")}
    if as_json:
        typer.echo(json.dumps(out))
    else:
        for key, value in out.items():
            typer.echo(f"{key}: {value}")


@app.command("apikey")
def apikey_command(
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    rotate: Annotated[bool, typer.Option("--rotate", help="Generate a new key.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the org's REST-function API key (zapikey); --rotate replaces it at once."""
    opened = _open(data, database_url)
    oauth = opened.crm.oauth
    key = None if rotate else oauth.api_key(opened.sealer)
    if key is None:
        key = oauth.rotate_api_key(opened.sealer)
    typer.echo(json.dumps({"zapikey": key}) if as_json else key)


users_app = typer.Typer(help="CRM users.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("set-password")
def users_set_password_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate a password and print it once.")
    ] = False,
) -> None:
    """Set a user's password (prompted, or read from standard input when it is not a terminal)."""
    import secrets

    if generate:
        password = secrets.token_urlsafe(15)
    elif sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    crm = _open_crm(data, database_url)
    try:
        crm.users.set_password(email, password)
    except Exception as exc:
        message = getattr(exc, "message", None)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if generate:
        typer.echo(password)
    else:
        typer.echo(f"floodway: password of {email} changed; their tokens and sessions ended")


# ---- functions platform (functions issue) ---------------------------------------------------


def _functions(opened: Any, settings: Any) -> Any:
    """The org's functions platform for a CLI command (connections need the secrets key)."""
    from .functions.service import Functions

    keyring = getattr(opened, "keyring", None)
    return Functions(opened.crm, settings, keyring=keyring)


def _run_on_org(
    file: Path, program: Any, values: dict[str, Any], data: Path, as_json: bool
) -> None:
    """``floodway run FILE --data DIR``: the org's data, time zone, settings and deployed
    functions; the run is recorded as an execution with trigger ``cli``."""
    from .deluge.values import text_form
    from .functions.service import FunctionsError
    from .settings import load_settings

    settings = load_settings(data)
    opened = _open(data, None)
    fx = _functions(opened, settings)

    def stream(line: str) -> None:
        typer.echo(line)

    try:
        result = fx.executor.run_source(
            program, values, trigger={"type": "cli"}, on_info=None if as_json else stream
        )
    except FunctionsError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        out = {
            "status": result.status,
            "output": result.output,
            "output_text": result.output_text,
            "info": result.info,
            "error": result.error,
            "statements": result.statements,
            "duration_ms": round(result.duration_ms, 3),
            "execution_id": result.id,
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
    elif result.status == "success":
        if result.value is not None:
            typer.echo(text_form(result.value))
    else:
        err = result.error or {}
        where = (
            f"{file}:{err.get('line')}:{err.get('column')}: " if err.get("line") else f"{file}: "
        )
        typer.echo(f"{where}{err.get('kind')} error: {err.get('message')}", err=True)
    raise typer.Exit(EXIT_OK if result.status == "success" else EXIT_FAILURE)


@app.command("executions")
def executions_command(
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    function: Annotated[
        str | None, typer.Option("--function", help="Only executions of this function.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="How many (newest first).")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """List function executions, newest first."""
    from .functions.service import FunctionsError
    from .settings import load_settings

    settings = load_settings(data)
    opened = _open(data, database_url)
    fx = _functions(opened, settings)
    try:
        records = fx.executions.list(function=function, limit=limit)
    except FunctionsError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    items = [fx.executions.cli_json(r) for r in records]
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False))
        return
    for it in items:
        error = (it["error"] or {}).get("message") or ""
        typer.echo(
            f"{it['started_at']}  {it['id']}  {it['function']}  {it['trigger']}  "
            f"{it['status']}  {it['duration_ms']:.1f} ms  {error}".rstrip()
        )


# ---- project directories: deploy and pull (functions issue, item 6) -------------------------

ProjectDirArgument = Annotated[
    Path, typer.Argument(help="Project directory: floodway.toml and functions/*.dg.")
]


def _progress(as_json: bool) -> Any:
    """A Rich spinner on a terminal (stderr); plain output otherwise and with --json."""
    import contextlib

    from rich.console import Console

    console = Console(stderr=True)
    if as_json or not console.is_terminal:
        return contextlib.nullcontext(None)
    return console.status("deploying", spinner="dots")


@app.command("deploy")
def deploy_command(
    project_dir: ProjectDirArgument,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Apply a project directory to the org: settings, modules, fields, variables, connections,
    functions (a changed function gets a new published version), workflow rules, buttons,
    related lists, validation rules and schedules. Connection secrets are read from the
    environment variables the manifest names. Nothing is written when anything is wrong;
    deploying the same directory twice changes nothing."""
    from .crm.errors import CrmError
    from .deploy import deploy, format_problem, problem_json
    from .functions.service import FunctionsError
    from .project import ProjectError
    from .settings import load_settings

    if not project_dir.is_dir():
        raise _usage_error(f"{project_dir}: not a directory")
    settings = load_settings(data)
    opened = _open(data, database_url)
    fx = _functions(opened, settings)
    try:
        with _progress(as_json) as status:
            report = deploy(
                opened.crm,
                fx,
                project_dir,
                dry_run=dry_run,
                progress=None if status is None else status.update,
            )
    except ProjectError as exc:
        if as_json:
            out = {
                "status": "error",
                "applied": False,
                "problems": [problem_json(p, project_dir) for p in exc.items],
            }
            typer.echo(json.dumps(out, ensure_ascii=False))
        else:
            count = len(exc.items)
            typer.echo(
                f"error: {count} problem{'s' if count != 1 else ''} in {project_dir}; "
                "nothing was applied",
                err=True,
            )
            for problem in exc.items:
                typer.echo(format_problem(problem, project_dir), err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    except (FunctionsError, CrmError) as exc:
        # Only what the plan could not foresee gets here (it checks everything it can first).
        message = (
            f"deploy stopped: {exc.message}; what was applied before stays, and deploying "
            "again finishes the rest"
        )
        if as_json:
            typer.echo(json.dumps({"status": "error", "applied": None, "message": message}))
        else:
            typer.echo(f"error: {message}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    head = f"dry run of {project_dir} (nothing written)" if dry_run else f"deployed {project_dir}"
    typer.echo(head)
    for line in report.text():
        typer.echo(line)


@app.command("pull")
def pull_command(
    project_dir: ProjectDirArgument,
    data: DataOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write the org's live functions to PROJECT_DIR/functions/<api_name>.dg and its workflow
    rules, buttons, related lists, validation rules and schedules into floodway.toml (files
    that are already identical are left untouched; other files are never deleted)."""
    from .deploy import pull
    from .settings import load_settings

    if project_dir.exists() and not project_dir.is_dir():
        raise _usage_error(f"{project_dir}: not a directory")
    settings = load_settings(data)
    opened = _open(data, database_url)
    fx = _functions(opened, settings)
    try:
        report = pull(fx, project_dir)
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    typer.echo(f"pulled into {project_dir}")
    for line in report.text():
        typer.echo(line)


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except Exception as exc:  # never a traceback for the user; details at debug level
        import secrets

        ref = secrets.token_hex(3)
        logging.getLogger("floodway").debug("internal error %s", ref, exc_info=exc)
        typer.echo(f"floodway: internal error (reference {ref})", err=True)
        raise SystemExit(EXIT_FAILURE) from None


if __name__ == "__main__":
    main()
