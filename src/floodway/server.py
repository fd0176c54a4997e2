"""``floodway serve``: open the CRM, build the API app and run it on uvicorn.

Start-up: the data directory and database are created and migrated when missing, the org seeded
and, on the very first start, an admin user created whose generated password is printed once
together with the base URL. Shutdown on SIGTERM/SIGINT is uvicorn's graceful one: the listening
socket closes, requests in flight (and their write transactions) finish, then the database engine
is disposed, so no acknowledged write is lost.

``serve`` also runs the job engine in-process (workflow actions, schedules, webhooks) unless
``serve_worker`` is false (``--no-worker``), and ``floodway worker`` runs the same jobs without the
HTTP server; both are built by ``build_runtime`` so that every process registers the same tasks.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .functions.secrets import Keyring, SecretContext, SecretsKeyError, load_keyring

log = logging.getLogger("floodway.server")

GRACEFUL_SHUTDOWN_S = 30


class StartupError(Exception):
    """A start-up problem the operator can fix; the CLI prints the message, no traceback."""


@dataclass(frozen=True, slots=True)
class Opened:
    crm: Any
    sealer: KeyringSealer
    keyring: Keyring
    created: bool
    admin_email: str | None
    admin_password: str | None


def open_crm(settings: Any, *, database_url: str | None = None) -> Opened:
    """The CRM of the settings' data directory / database, initialised as a first start does."""
    from .crm import Crm
    from .db import DEFAULT_DATA_DIR, init_data_dir

    data_dir = Path(getattr(settings, "data", None) or DEFAULT_DATA_DIR)
    init_data_dir(data_dir)
    url = database_url or getattr(settings, "database_url", None)
    try:
        crm, first = Crm.open(settings, database_url=url, data_dir=data_dir)
    except Exception as exc:
        raise _database_error(exc, url) from None
    keyring = load_secrets(settings, data_dir)
    return Opened(
        sealer=KeyringSealer(keyring),
        keyring=keyring,
        crm=crm,
        created=bool(getattr(first, "created", False)),
        admin_email=getattr(first, "admin_email", None),
        admin_password=getattr(first, "admin_password", None),
    )


def _database_error(exc: Exception, url: str | None) -> Exception:
    """An unreachable or unusable database as a start-up error naming it (no password)."""
    import sqlalchemy as sa

    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return exc
    shown = "the SQLite database in the data directory"
    if url:
        try:
            shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        except Exception:
            shown = "the configured database"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0] if reason else exc.__class__.__name__
    return StartupError(f"cannot open the database {shown}: {detail}")


@dataclass(slots=True)
class Runtime:
    """What a serving or working process runs: functions, the job queue, automation and the
    mail delivery loop (None without SMTP settings)."""

    crm: Any
    sealer: Any
    functions: Any
    queue: Any
    automation: Any
    mail: Any


def build_runtime(opened: Opened, settings: Any) -> Runtime:
    """Functions, the job queue and automation over an opened CRM. Every process builds the
    same, so every worker knows every task before its queue starts."""
    from .automation.service import Automation
    from .functions.delivery import DeliveryLoop, smtp_from_settings
    from .functions.service import Functions
    from .jobs import open_queue

    crm, sealer = opened.crm, opened.sealer
    functions = Functions(
        crm, settings, keyring=opened.keyring, zapikey=lambda: crm.oauth.api_key(sealer)
    )
    queue = open_queue(crm.engine, settings, clock=crm.clock)
    automation = Automation(crm, functions, queue, settings)
    register_maintenance(queue, functions, settings)
    smtp = smtp_from_settings(settings)
    mail = DeliveryLoop(functions, smtp) if smtp is not None else None
    return Runtime(crm, sealer, functions, queue, automation, mail)


STALLED_SWEEP_S = 60.0


def register_maintenance(queue: Any, functions: Any, settings: Any) -> None:
    """Periodic upkeep that belongs to no single part: ``running`` executions left behind by a
    process that died become failures with error kind ``interrupted`` (MN-6)."""

    def sweep(*_: Any) -> None:
        from .functions.running import interrupt_abandoned_runs

        count = interrupt_abandoned_runs(functions)
        if count:
            log.warning(
                "%d execution(s) left running by a stopped process marked interrupted", count
            )

    queue.every("functions.stalled_executions", STALLED_SWEEP_S, sweep)


class KeyringSealer:
    """The CRM's ``Sealer`` (encrypted display copies, security.md SEC-1) over the secrets
    keyring, so the API key and connection secrets share one key and one format."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @staticmethod
    def _context(aad: str) -> SecretContext:
        return SecretContext("", "sealed", aad, "value")

    def seal(self, plaintext: str, aad: str) -> str:
        return self.keyring.encrypt(plaintext, self._context(aad))

    def unseal(self, sealed: str, aad: str) -> str:
        return self.keyring.decrypt(sealed, self._context(aad))


def load_secrets(settings: Any, data_dir: Path) -> Keyring:
    """The secrets keyring: ``FLOODWAY_SECRET_KEY`` or ``<data>/secret.key`` (created 0600 on a
    first start). Several nodes on one database must be given the same key in the environment."""
    try:
        loaded = load_keyring(getattr(settings, "secret_key", None), data_dir=data_dir)
    except SecretsKeyError as exc:
        raise StartupError(str(exc)) from None
    return loaded.keyring  # a newly created key file is logged by load_keyring


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so ``--port 0`` works and the real port can be printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it Nagle plus delayed ACK add 40 ms to small responses.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    settings: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    echo: Callable[[str], None] = print,
    worker: bool | None = None,
    demo: bool = False,
) -> None:
    """Serve the API. ``worker``: run jobs in this process (default: ``serve_worker``);
    ``demo``: install the demo data and automation before serving."""
    import uvicorn

    from .api.app import create_app
    from .api.config import ApiConfig

    opened = open_crm(settings, database_url=database_url)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    real_port = sock.getsockname()[1]
    url = base_url(host, real_port)
    if opened.created and opened.admin_password:
        echo("floodway: created a new org with an admin user (shown once):")
        echo(f"  email:    {opened.admin_email}")
        echo(f"  password: {opened.admin_password}")
    runtime = build_runtime(opened, settings)
    crm, sealer, functions = opened.crm, opened.sealer, runtime.functions
    if demo:
        install_demo(settings, runtime, echo, floodway_url=url)
    app = create_app(
        crm,
        settings,
        config=ApiConfig.from_settings(settings),
        sealer=sealer,
        functions=functions,
        automation=runtime.automation,
    )
    run_jobs = bool(getattr(settings, "serve_worker", True)) if worker is None else worker
    mail = runtime.mail

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if run_jobs:
            runtime.queue.start(concurrency=_concurrency(settings))
        if mail is not None:
            mail.start()
        # Everything loaded so far (modules, metadata, templates) lives as long as the process:
        # out of the collector's generations, full collections during requests stay short.
        gc.collect()
        gc.freeze()
        echo(f"floodway: serving on {url}")
        log.info("serving", extra={"url": url, "worker": run_jobs})
        try:
            yield
        finally:
            log.info("shutting down")
            if mail is not None:
                mail.stop()
            if run_jobs:
                runtime.queue.stop(timeout=GRACEFUL_SHUTDOWN_S)
            _close_runtime(runtime)
            _dispose(opened.crm)

    app.router.lifespan_context = lifespan
    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,  # SEC-6: uvicorn's access log prints query strings
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        h11_max_incomplete_event_size=64 * 1024,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once the graceful shutdown is over; with a
    # no-op handler in place that last step is silent and a SIGTERM stop exits with status 0.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def _concurrency(settings: Any, override: int | None = None) -> int:
    if override is not None:
        return max(1, int(override))
    return max(1, int(getattr(settings, "worker_concurrency", 4) or 4))


def install_demo(
    settings: Any, runtime: Runtime, echo: Callable[[str], None], *, floodway_url: str
) -> None:
    """``serve --demo``: the example project, sample records and stand-ins for the outside
    services on 127.0.0.1 (``floodway.demo``), installed before the server starts."""
    from .db import DEFAULT_DATA_DIR
    from .demo import install_demo as install

    data_dir = Path(getattr(settings, "data", None) or DEFAULT_DATA_DIR)
    # The accounting stand-in reports payments to the REST API with the org's API key.
    oauth, sealer = runtime.crm.oauth, runtime.sealer
    zapikey = oauth.api_key(sealer) or oauth.rotate_api_key(sealer)
    result = install(
        data_dir,
        crm=runtime.crm,
        functions=runtime.functions,
        automation=runtime.automation,
        floodway_url=floodway_url,
        zapikey=zapikey,
    )
    echo(f"floodway: demo installed ({result.summary})")
    for note in result.notes:
        echo(f"floodway: demo: {note}")


def work(
    settings: Any,
    *,
    database_url: str | None = None,
    concurrency: int | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """``floodway worker``: run jobs (workflow actions, schedules, webhooks) and deliver mail
    until SIGTERM/SIGINT; jobs in progress finish first."""
    opened = open_crm(settings, database_url=database_url)
    runtime = build_runtime(opened, settings)
    threads = _concurrency(settings, concurrency)
    if runtime.mail is not None:
        runtime.mail.start()
    echo(f"floodway: worker running (concurrency {threads})")
    log.info("worker started", extra={"concurrency": threads})
    try:
        runtime.queue.run_forever(concurrency=threads)
    finally:
        log.info("worker stopping")
        if runtime.mail is not None:
            runtime.mail.stop()
        _close_runtime(runtime)
        _dispose(opened.crm)
    echo("floodway: worker stopped")


def _close_runtime(runtime: Runtime) -> None:
    for part in (runtime.automation, runtime.queue):
        close = getattr(part, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # shutting down: report, go on closing the rest
                log.exception("closing %s failed", type(part).__name__)


def _ignore(signum: int, frame: Any) -> None:
    return None


def _dispose(crm: Any) -> None:
    for name in ("close", "dispose"):
        fn = getattr(crm, name, None)
        if callable(fn):
            fn()
            return
    engine = getattr(crm, "engine", None)
    if engine is not None:
        engine.dispose()
