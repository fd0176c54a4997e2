"""Each user's console preferences (table ``console_preferences``): small JSON values by name,
such as ``columns:Deals``. Read on the pages that use them, written by their forms."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodway.db import read_transaction, write_transaction

from .schema import console_preferences as P

_GET: Final = sa.select(P.c.value).where(
    P.c.user_id == sa.bindparam("user"), P.c.name == sa.bindparam("name")
)


def load(engine: Engine, user_id: str, name: str) -> Any:
    """The user's value of ``name``; None when they never set it."""
    with read_transaction(engine) as conn:
        row = conn.execute(_GET, {"user": int(user_id), "name": name}).first()
    return None if row is None else row.value


def save(engine: Engine, user_id: str, name: str, value: Any, now_ms: int) -> None:
    key = (P.c.user_id == int(user_id)) & (P.c.name == name)
    update = P.update().where(key).values(value=value, modified_ms=now_ms)
    with write_transaction(engine) as conn:
        if conn.execute(update).rowcount:
            return
    try:
        with write_transaction(engine) as conn:
            conn.execute(
                P.insert().values(user_id=int(user_id), name=name, value=value, modified_ms=now_ms)
            )
    except sa.exc.IntegrityError:  # saved from another tab in between: the later one wins
        with write_transaction(engine) as conn:
            conn.execute(update)


def clear(engine: Engine, user_id: str, name: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(P.delete().where(P.c.user_id == int(user_id), P.c.name == name))
