"""The CRM facade: one object per process bound to one org, holding the services.

``Crm(engine).bootstrap()`` creates the org on first start (profiles, standard modules, an admin
user with a generated password) and claims this process's id-generator node number; later
starts find the org and reuse it. ``Crm.open`` does engine, migrations and bootstrap in one call.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import schema as t
from .events import EventBus
from .ids import IdGenerator
from .metadata import Metadata
from .users import ADMINISTRATOR, Users

BOOTSTRAP_LOCK_KEY: Final = 0x666C6F6F64626F6F  # "floodboo": first-start seeding on PostgreSQL
DEFAULT_ADMIN_EMAIL: Final = "admin@floodway.local"


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    created: bool  # True on the first start of this database
    admin_email: str
    admin_password: str | None  # printed once by the CLI; None on later starts
    org_id: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes, through which channel, and whether workflow rules should fire.

    ``chain`` is the causal chain (id, depth) of a write made on behalf of an automation
    (functions-platform.md §5); ``None`` for a user's or API client's own write, which starts a
    new chain at depth 0."""

    user_id: str
    channel: str = "api"  # "api" | "ui" | "function"
    workflow: bool = True
    chain: tuple[str, int] | None = None


class Crm:
    """CRM services of one org: ``metadata``, ``records``, ``users``, ``oauth``, ``events``."""

    def __init__(self, engine: Engine, *, clock: Callable[[], _dt.datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: _dt.datetime.now(_dt.UTC))
        self.org_id = 0
        self.ids = IdGenerator(0)
        self.tz: _dt.tzinfo = _dt.UTC
        self.time_zone_name = "UTC"
        self.signing_key = b""
        self.primary_admin_id: str | None = None
        self.events = EventBus(0)
        self.metadata = Metadata(self)
        self.users = Users(self)
        from .oauth import OAuth
        from .records import Records

        self.records = Records(self)
        self.oauth = OAuth(self)

    @classmethod
    def open(
        cls,
        settings: Any = None,
        *,
        database_url: str | None = None,
        data_dir: Path | None = None,
        admin_email: str | None = None,
        migrate: bool = True,
    ) -> tuple[Crm, BootstrapResult]:
        """Engine, migrations, bootstrap: what every command that needs the CRM does first."""
        from floodway.db import create_engine_for, ensure_schema

        engine = create_engine_for(settings, database_url=database_url, data_dir=data_dir)
        if migrate:
            ensure_schema(engine)
        crm = cls(engine)
        tz = getattr(settings, "time_zone", None) if settings is not None else None
        result = crm.bootstrap(admin_email=admin_email, time_zone=tz)
        return crm, result

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    # ------------------------------------------------------------------ bootstrap

    def bootstrap(
        self, *, admin_email: str | None = None, time_zone: str | None = None
    ) -> BootstrapResult:
        """Create the org on first start (idempotent); claim an id node for this process."""
        from floodway.db import write_transaction

        password: str | None = None
        created = False
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": BOOTSTRAP_LOCK_KEY})
            row = conn.execute(sa.select(t.orgs).order_by(t.orgs.c.id).limit(1)).first()
            if row is None:
                created = True
                password = self._create_org(conn, admin_email, time_zone or "UTC")
                row = conn.execute(sa.select(t.orgs).order_by(t.orgs.c.id).limit(1)).one()
            conn.execute(
                t.orgs.update()
                .where(t.orgs.c.id == row.id)
                .values(node_counter=t.orgs.c.node_counter + 1)
            )
            node = conn.execute(
                sa.select(t.orgs.c.node_counter).where(t.orgs.c.id == row.id)
            ).scalar_one()
            self._attach(row)
            self.ids = IdGenerator(int(node))
        admin = self.users.get(self.primary_admin_id) if self.primary_admin_id else None
        return BootstrapResult(created, admin.email if admin else "", password, str(self.org_id))

    def _attach(self, row: Any) -> None:
        self.org_id = row.id
        self.events.org_id = row.id
        self.time_zone_name = row.time_zone
        try:
            self.tz = ZoneInfo(row.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = _dt.UTC
        self.signing_key = bytes.fromhex(row.signing_key)
        self.primary_admin_id = str(row.primary_admin_id) if row.primary_admin_id else None
        self.metadata.invalidate()

    def _create_org(self, conn: Any, admin_email: str | None, time_zone: str) -> str:
        now = self.now_ms()
        org_id = self.ids.next_id()
        email = (admin_email or DEFAULT_ADMIN_EMAIL).strip().lower()
        conn.execute(
            t.orgs.insert().values(
                id=org_id,
                name="floodway",
                zgid=str(secrets.randbelow(9 * 10**10) + 10**10),
                time_zone=time_zone,
                currency="USD",
                primary_email=email,
                primary_admin_id=None,
                meta_version=1,
                node_counter=0,
                signing_key=secrets.token_hex(32),
                created_time=now,
            )
        )
        self.org_id = org_id
        self.events.org_id = org_id
        self.time_zone_name = time_zone
        self.users.seed_profiles(conn, now)
        self.metadata.seed(conn, now)
        admin, password = self.users.create(
            email, first_name=None, last_name="Admin", profile=ADMINISTRATOR, conn=conn
        )
        conn.execute(
            t.orgs.update().where(t.orgs.c.id == org_id).values(primary_admin_id=int(admin.id))
        )
        return password

    # ------------------------------------------------------------------ org

    def org_json(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.orgs).where(t.orgs.c.id == self.org_id)).one()
        return {
            "id": str(row.id),
            "zgid": row.zgid,
            "company_name": row.name,
            "primary_email": row.primary_email,
            "currency": "US Dollar" if row.currency == "USD" else row.currency,
            "iso_code": row.currency,
            "currency_symbol": "$" if row.currency == "USD" else row.currency,
            "time_zone": row.time_zone,
            "country_code": "US",
            "domain_name": f"org{row.zgid}",
            "type": "production",
        }
