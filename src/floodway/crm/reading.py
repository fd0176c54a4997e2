"""Reading records: the REST record shape, listings, search, related lists, page tokens.

Everything is one SQL query for the page (filter, sort, ``LIMIT per_page + 1`` for
``more_records``) plus one query for the names of the page's lookups and one for its users.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from . import schema as t
from .criteria import CriteriaError, CriteriaLimitError, parse_criteria
from .criteria_sql import Dialect, criteria_clause, email_clause, phone_clause, word_clause
from .errors import (
    MSG_INVALID_DATA,
    MSG_INVALID_QUERY,
    MSG_LIMIT_REACHED,
    MSG_PARAM_MISSING,
    CrmError,
    limit_exceeded,
)
from .standard import FieldDef, ModuleDef
from .values import id_of, ms_to_iso, output

if TYPE_CHECKING:
    from .service import Crm

R = t.records
MAX_PER_PAGE: Final = 200
MAX_FIELDS: Final = 50
MAX_SEARCH_MATCHES: Final = 2000
MAX_IDS: Final = 100
TOKEN_TTL_MS: Final = 24 * 3600 * 1000
RECORD_COLUMNS: Final = (
    R.c.id,
    R.c.module_id,
    R.c.name,
    R.c.data,
    R.c.owner_id,
    R.c.created_by,
    R.c.modified_by,
    R.c.created_time,
    R.c.modified_time,
)
# Built once, ids as parameters (``rid``, ``module``; ``ids``): a statement built per call costs
# more Python time than its round trip, and every record read by id and lookup rendering runs
# these.
RECORD_BY_ID: Final = sa.select(*RECORD_COLUMNS).where(
    R.c.id == sa.bindparam("rid"), R.c.module_id == sa.bindparam("module")
)
_NAMES: Final = sa.select(R.c.id, R.c.name, R.c.module_id).where(
    R.c.id.in_(sa.bindparam("ids", expanding=True))
)
_UNSORTABLE: Final = frozenset({"lookup", "parent", "multiselectpicklist"})
_NUMERIC: Final = frozenset({"integer", "bigint", "decimal", "currency", "percent"})
_ISO_TEXT: Final = frozenset({"date", "datetime"})


@dataclass(frozen=True, slots=True)
class Ordering:
    """How a listing is sorted: the ``sort_by``/``sort_order`` names it reports and its
    ``ORDER BY``; for a field also the condition that a record has a value and the order of
    those records (without the ``NULLS LAST`` that puts the others after them)."""

    name: str
    order: str
    columns: list[Any]
    present: ColumnElement[bool] | None = None
    value_order: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    """One page of records: ``data`` (REST shape) and ``info`` (compat §7, v3+ keys)."""

    data: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def fields_filter(fields: Any) -> set[str] | None:
    """The ``fields`` parameter as lower-case names (None = all); > 50 -> LIMIT_EXCEEDED."""
    if fields is None:
        return None
    items = fields.split(",") if isinstance(fields, str) else [str(x) for x in fields]
    names = {x.strip().lower() for x in items if x.strip()}
    if not names:
        return None
    if len(names) > MAX_FIELDS:
        raise limit_exceeded(MAX_FIELDS)
    return names


def parse_ids(ids: Any, param: str = "ids") -> list[int]:
    items = ids.split(",") if isinstance(ids, str) else list(ids)
    out = []
    for x in items:
        if isinstance(x, str) and not x.strip():
            continue
        rid = id_of(x)
        if rid is None:
            raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": param})
        out.append(rid)
    if len(out) > MAX_IDS:
        raise limit_exceeded(MAX_IDS)
    return out


class Reader:
    def __init__(self, crm: Crm) -> None:
        self.crm = crm

    @property
    def dialect(self) -> str:
        return self.crm.engine.dialect.name

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        conn: Connection,
        mod: ModuleDef,
        rows: Sequence[Any],
        only: set[str] | None = None,
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        link_fields = [f for f in mod.fields.values() if f.type in ("lookup", "parent")]
        if only is not None:
            link_fields = [f for f in link_fields if f.api_name.lower() in only]
        targets: set[int] = set()
        for row in rows:
            data = row.data
            for f in link_fields:
                v = data.get(f.api_name)
                if v:
                    targets.add(int(v))
        names = self.names(conn, targets)
        people: set[int] = set()
        for row in rows:
            people.update((row.owner_id, row.created_by, row.modified_by))
        users = self.crm.users.brief(people, conn)
        snap = self.crm.metadata.snapshot()
        return [self._record(mod, row, only, names, users, snap) for row in rows]

    def names(self, conn: Connection, ids: Iterable[int]) -> dict[int, tuple[str | None, int]]:
        ids = set(ids)
        if not ids:
            return {}
        rows = conn.execute(_NAMES, {"ids": sorted(ids)}).all()
        return {r.id: (r.name, r.module_id) for r in rows}

    def _record(
        self,
        mod: ModuleDef,
        row: Any,
        only: set[str] | None,
        names: dict[int, tuple[str | None, int]],
        users: dict[int, tuple[str, str]],
        snap: Any,
    ) -> dict[str, Any]:
        tz = self.crm.tz
        data = row.data

        def want(key: str) -> bool:
            return only is None or key.lower() in only

        def person(uid: int) -> dict[str, Any]:
            name, email = users.get(uid, (None, None))
            return {"name": name, "id": str(uid), "email": email}

        out: dict[str, Any] = {}
        if want("Owner"):
            out["Owner"] = person(row.owner_id)
        for f in mod.fields.values():
            if not want(f.api_name):
                continue
            v = data.get(f.api_name)
            if f.type in ("lookup", "parent"):
                out[f.api_name] = self._link(mod, f, v, data, names, snap)
                if f.type == "parent":
                    out["$se_module"] = data.get("$se_module") if v else None
            else:
                out[f.api_name] = output(f, v, tz)
        if only is None:
            out["Tag"] = []
            out["$currency_symbol"] = "$"
            out["$editable"] = True
            out["$approved"] = True
            if mod.api_name == "Leads":
                out["$converted"] = bool(data.get("$converted"))
        if want("Created_By"):
            out["Created_By"] = person(row.created_by)
        if want("Modified_By"):
            out["Modified_By"] = person(row.modified_by)
        if want("Created_Time"):
            out["Created_Time"] = ms_to_iso(row.created_time, tz)
        if want("Modified_Time"):
            out["Modified_Time"] = ms_to_iso(row.modified_time, tz)
        out["id"] = str(row.id)
        return out

    @staticmethod
    def _link(
        mod: ModuleDef,
        f: FieldDef,
        v: Any,
        data: dict[str, Any],
        names: dict[int, tuple[str | None, int]],
        snap: Any,
    ) -> dict[str, Any] | None:
        if not v:
            return None
        rid = int(v)
        name, module_id = names.get(rid, (None, 0))
        if f.type == "parent" and mod.api_name == "Notes":
            target = snap.by_id.get(module_id)
            se = data.get("$se_module")
            return {
                "module": {"api_name": se, "id": target.id if target else None},
                "name": name,
                "id": str(rid),
            }
        return {"name": name, "id": str(rid)}

    # ------------------------------------------------------------------ get

    def get(self, module: str, record_id: Any, fields: Any = None) -> dict[str, Any] | None:
        mod = self.crm.metadata.module(module)
        rid = id_of(record_id)
        only = fields_filter(fields)
        if rid is None:
            return None
        with self.crm.engine.connect() as conn:
            row = conn.execute(RECORD_BY_ID, {"rid": rid, "module": int(mod.id)}).first()
            if row is None:
                return None
            return self.render(conn, mod, [row], only)[0]

    # ------------------------------------------------------------------ listings

    def order(self, mod: ModuleDef, sort_by: str | None, sort_order: str | None) -> Ordering:
        order = (sort_order or "desc").strip().lower()
        if order not in ("asc", "desc"):
            raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "sort_order"})
        desc = order == "desc"
        key = (sort_by or "id").strip()
        low = key.lower()

        def direction(col: Any) -> Any:
            return col.desc() if desc else col.asc()

        id_order = direction(R.c.id)
        if low == "id":
            return Ordering("id", order, [id_order])
        if low == "created_time":
            return Ordering("Created_Time", order, [direction(R.c.created_time), id_order])
        if low == "modified_time":
            return Ordering("Modified_Time", order, [direction(R.c.modified_time), id_order])
        f = mod.field(key)
        if f is None or f.type in _UNSORTABLE:
            raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "sort_by"})
        d = Dialect(self.dialect)
        if f.api_name == mod.name_field:
            # The name is also the ``records.name`` column, indexed as (module, lower(name)).
            expr, present = sa.func.lower(R.c.name), R.c.name.is_not(None)
        else:
            present = d.has(f.api_name)
            if f.type in _NUMERIC:
                expr = d.number(f.api_name)
            elif f.type in _ISO_TEXT:
                expr = d.text(f.api_name)  # ISO text sorts as it is: no lower(), so indexes match
            else:
                expr = sa.func.lower(d.text(f.api_name))
        # Records without a value come last in both directions. On SQLite, migration 0009
        # indexes (module, value, id) of the standard modules' number and date fields and the
        # sorted page is an index walk; PostgreSQL pages the records with a value first
        # (``_split_page``) so its partial indexes (migration 0012) serve both directions.
        return Ordering(
            f.api_name,
            order,
            [direction(expr).nulls_last(), id_order],
            present=present,
            value_order=[direction(expr), id_order],
        )

    def base_filters(
        self, mod: ModuleDef, converted: Any, ids: Any, modified_since: Any
    ) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [R.c.module_id == int(mod.id)]
        if mod.api_name == "Leads":
            mode = "false" if converted is None else str(converted).strip().lower()
            if mode != "both":
                d = Dialect(self.dialect)
                is_conv = sa.and_(d.present("$converted"), d.boolean("$converted", True))
                where.append(is_conv if mode == "true" else sa.not_(is_conv))
        if ids is not None:
            id_list = parse_ids(ids)
            if id_list:
                where.append(R.c.id.in_(id_list))
        if modified_since is not None:
            where.append(R.c.modified_time > _moment_ms(modified_since))
        return where

    def listing(
        self,
        mod: ModuleDef,
        where: list[ColumnElement[bool]],
        *,
        fields: Any,
        page: int | None,
        per_page: int | None,
        page_token: str | None,
        sort_by: str | None,
        sort_order: str | None,
        bound: dict[str, Any],
        user_id: str | None,
        cap: int | None = None,
    ) -> Page:
        only = fields_filter(fields)
        size = _per_page(per_page)
        ordering = self.order(mod, sort_by, sort_order)
        sort_name, order = ordering.name, ordering.order
        if page_token and page is not None:
            raise CrmError(
                "AMBIGUITY_DURING_PROCESSING",
                "page and page_token cannot be used together",
                {"param_name": "page_token"},
            )
        digest = _bind_digest({**bound, "per_page": size, "sort": [sort_name, order]})
        offset = 0
        page_no = _page_no(page)
        keyset: int | None = None
        if page_token:
            tok = self._read_token(page_token, mod, user_id, digest)
            offset, keyset, page_no = tok["o"], tok.get("k"), tok["p"]
        else:
            offset = (page_no - 1) * size
        limit = size + 1
        if cap is not None:
            if offset >= cap:
                raise CrmError("LIMIT_REACHED", MSG_LIMIT_REACHED, {"limit": cap})
            limit = min(limit, cap - offset)
        split = ordering.present is not None and self.dialect == "postgresql"
        # The parts of a split page read one snapshot, so a write between them cannot show a
        # record twice or skip one at the boundary.
        options = {"isolation_level": "REPEATABLE READ"} if split else {}
        with self.crm.engine.connect().execution_options(**options) as conn:
            if split:
                rows = self._split_page(conn, where, ordering, offset, limit)
            else:
                q = sa.select(*RECORD_COLUMNS).where(*where).order_by(*ordering.columns)
                if keyset is not None:
                    q = q.where(R.c.id < keyset if order == "desc" else R.c.id > keyset)
                else:
                    q = q.offset(offset)
                rows = list(conn.execute(q.limit(limit)).all())
            more = len(rows) > size
            rows = rows[:size]
            data = self.render(conn, mod, rows, only)
        info: dict[str, Any] = {
            "per_page": size,
            "count": len(data),
            "page": page_no,
            "more_records": more,
            "sort_by": sort_name,
            "sort_order": order,
            "next_page_token": None,
            "previous_page_token": None,
            "page_token_expiry": None,
        }
        if more and cap is None:
            expiry = self.crm.now_ms() + TOKEN_TTL_MS
            payload: dict[str, Any] = {
                "m": mod.id,
                "u": user_id or "",
                "h": digest,
                "o": offset + size,
                "p": page_no + 1,
                "x": expiry,
            }
            if sort_name == "id" and rows:
                payload["k"] = rows[-1].id
            info["next_page_token"] = self._make_token(payload)
            info["page_token_expiry"] = ms_to_iso(expiry, self.crm.tz)
        return Page(data, info)

    def _split_page(
        self,
        conn: Connection,
        where: list[ColumnElement[bool]],
        ordering: Ordering,
        offset: int,
        limit: int,
    ) -> list[Any]:
        """One page sorted by a data field: the records with a value in sort order, then those
        without one by id. Each part is a plain ``ORDER BY`` that an index can walk in either
        direction; ``NULLS LAST`` over both would match an index in one direction only."""
        has = ordering.present
        assert has is not None
        first = (
            sa.select(*RECORD_COLUMNS)
            .where(*where, has)
            .order_by(*ordering.value_order)
            .offset(offset)
            .limit(limit)
        )
        rows = list(conn.execute(first).all())
        if len(rows) == limit:
            return rows
        skip = 0
        if not rows:  # the page starts past the records with a value: how far past?
            with_value = conn.execute(
                sa.select(sa.func.count()).select_from(R).where(*where, has)
            ).scalar_one()
            skip = max(0, offset - with_value)
        rest = (
            sa.select(*RECORD_COLUMNS)
            .where(*where, sa.not_(has))
            .order_by(ordering.columns[-1])
            .offset(skip)
            .limit(limit - len(rows))
        )
        return rows + list(conn.execute(rest).all())

    # ------------------------------------------------------------------ page tokens

    def _make_token(self, payload: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(
            b"="
        )
        sig = hmac.new(self.crm.signing_key, body, hashlib.sha256).digest()[:16]
        return (body + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()

    def _read_token(
        self, token: str, mod: ModuleDef, user_id: str | None, digest: str
    ) -> dict[str, Any]:
        bad = CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "page_token"})
        try:
            body, _, sig = token.encode("ascii").partition(b".")
            want = hmac.new(self.crm.signing_key, body, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(
                base64.urlsafe_b64decode(sig + b"=" * (-len(sig) % 4)), want
            ):
                raise bad
            payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (ValueError, UnicodeError):
            raise bad from None
        if not isinstance(payload, dict):
            raise bad
        if payload.get("x", 0) < self.crm.now_ms():
            raise CrmError("EXPIRED_VALUE", "page_token has expired", {"param_name": "page_token"})
        if (
            payload.get("m") != mod.id
            or payload.get("u") != (user_id or "")
            or payload.get("h") != digest
        ):
            raise CrmError(
                "TOKEN_BOUND_DATA_MISMATCH",
                "page_token does not match the request",
                {"param_name": "page_token"},
            )
        return payload

    # ------------------------------------------------------------------ search

    def search_filter(
        self,
        mod: ModuleDef,
        criteria: str | None,
        email: str | None,
        phone: str | None,
        word: str | None,
    ) -> ColumnElement[bool]:
        dialect = self.dialect
        if criteria is not None and str(criteria).strip():
            try:
                tree = parse_criteria(str(criteria))
                return criteria_clause(
                    tree, mod, self.crm.metadata.field_types(mod), dialect, self.crm.tz
                )
            except CriteriaLimitError as e:
                raise limit_exceeded(e.limit) from None
            except CriteriaError as e:
                details: dict[str, Any] = {"reason": str(e)}
                if e.api_name is not None:
                    details = {"api_name": e.api_name, "operator": e.operator, "reason": e.message}
                raise CrmError("INVALID_QUERY", MSG_INVALID_QUERY, details) from None
        if email is not None and str(email).strip():
            return email_clause(mod, str(email), dialect)
        if phone is not None and str(phone).strip():
            return phone_clause(mod, str(phone), dialect)
        if word is not None and str(word).strip():
            if len(str(word).strip()) < 2:
                raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "word"})
            return word_clause(mod, str(word), dialect)
        raise CrmError(
            "EXPECTED_PARAM_MISSING",
            MSG_PARAM_MISSING,
            {"expected_params": ["criteria", "email", "phone", "word"]},
        )


def _per_page(per_page: Any) -> int:
    if per_page is None:
        return MAX_PER_PAGE
    try:
        n = int(per_page)
    except (TypeError, ValueError):
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "per_page"}) from None
    if n < 1:
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "per_page"})
    return min(n, MAX_PER_PAGE)


def _page_no(page: Any) -> int:
    if page is None:
        return 1
    try:
        n = int(page)
    except (TypeError, ValueError):
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "page"}) from None
    if n < 1:
        raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "page"})
    return n


def _bind_digest(bound: dict[str, Any]) -> str:
    text = json.dumps(bound, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _moment_ms(value: Any) -> int:
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, (int, float)):
        return int(value)
    raise CrmError("INVALID_DATA", MSG_INVALID_DATA, {"param_name": "If-Modified-Since"})
