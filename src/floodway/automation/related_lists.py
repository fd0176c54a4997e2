"""Related lists fed by functions (functions-platform.md §2.4): run on every view of a record
page, with arguments mapped from the shown record, and turn the returned XML into a table.

``parse_related_xml`` is pure. The XML is parsed by lxml with DTDs, entity expansion and network
access off and without the huge-tree option, and a document that declares a DTD at all is refused,
so entity tricks (billion laughs, external entities) never expand (security.md LM-8); input over
5 MB is refused before parsing.

floodway extension: a function declared ``list`` that returns a list of maps gets one row per
map, its keys as columns; a map value ``{"url": …, "text": …}`` is a link.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]

from floodway.deluge.values import text_form
from floodway.project.model import RelatedList

from .errors import AutomationError
from .synchronous import (
    enabled_item,
    function_failed,
    live_function,
    mark_failure,
    readable_records,
    render_arguments,
)

__all__ = [
    "INVALID_XML",
    "MAX_ROWS",
    "RelatedLists",
    "RelatedTable",
    "parse_related_xml",
    "table_from_list",
]

log = logging.getLogger("floodway.automation")

MAX_ROWS: Final = 200
MAX_XML_CHARS: Final = 5 * 1024 * 1024
INVALID_XML: Final = "The related list function returned invalid XML"
INVALID_LIST: Final = "The related list function returned a list that is not a list of maps"
FAILED: Final = "The related list function failed"
_XML_DECL: Final = re.compile(r"^\s*<\?xml[^>]*\?>")
# The prolog before the root element: whitespace, comments and processing instructions.
_PROLOG_ITEM: Final = re.compile(r"\s+|<!--.*?-->|<\?.*?\?>", re.DOTALL)
NO_DTD: Final = "a DOCTYPE (DTD) is not allowed"


@dataclass(frozen=True, slots=True)
class RelatedTable:
    """What the record page shows for one function-fed related list.

    - a table: ``columns`` (first appearance), ``rows`` (``{column: text}``, every column present,
      ``""`` for a cell a row does not have), ``links`` (``{row index as text: {column: url}}``,
      http(s) only); ``truncated`` when more than 200 rows came back (``total_rows`` says how many);
    - ``message``: the text of ``<error><message>`` (shown instead of a table, not a failure);
    - ``error``: the run failed or its output was unusable (shown as an error panel); ``detail``
      is the parser's own message, kept for the execution record (not shown to the user).
    """

    columns: tuple[str, ...] = ()
    rows: tuple[dict[str, str], ...] = ()
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    message: str | None = None
    error: str | None = None
    detail: str | None = None
    total_rows: int = 0
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "rows": [dict(r) for r in self.rows],
            "links": {k: dict(v) for k, v in self.links.items()},
            "message": self.message,
            "error": self.error,
            "total_rows": self.total_rows,
            "truncated": self.truncated,
        }


def _invalid(detail: str, error: str = INVALID_XML) -> RelatedTable:
    return RelatedTable(error=error, detail=detail)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def _is_web_url(url: str) -> bool:
    """Only http(s) targets become links (security.md AUTH-10); others stay text."""
    low = url.strip().lower()
    return low.startswith("http://") or low.startswith("https://")


def _text(elem: Any) -> str:
    return "".join(elem.itertext()).strip()


def parse_related_xml(text: str) -> RelatedTable:
    """The table (or message, or error) a related-list function's XML output stands for."""
    if not isinstance(text, str) or not text.strip():
        return _invalid("the function returned no text")
    if len(text) > MAX_XML_CHARS:
        return _invalid("the output exceeds 5 MB")
    body = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)
    if _declares_dtd(body):
        return _invalid(NO_DTD)  # refused before parsing: no entity is ever declared
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        return _invalid(str(exc.msg or exc))
    except ValueError as exc:  # text lxml refuses before parsing (e.g. NUL characters)
        return _invalid(str(exc))
    if root.getroottree().docinfo.doctype:
        return _invalid(NO_DTD)
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == "error":
        found = root.find("message")
        return RelatedTable(message=_text(found if found is not None else root))
    if tag != "record":
        return _invalid(f"the root element is <{tag}>; expected <record> or <error>")
    numbered: list[tuple[tuple[int, int, int], Any]] = []
    for position, row in enumerate(root.iterchildren("row")):
        no = _row_number(row.get("no"))
        # Rows with a number first, by number; rows without one after them, in document order.
        key = (0, no, position) if no is not None else (1, 0, position)
        numbered.append((key, row))
    numbered.sort(key=lambda pair: pair[0])
    shown = [row for _, row in numbered[:MAX_ROWS]]
    columns: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    links: dict[str, dict[str, str]] = {}
    for index, row in enumerate(shown):
        cells: dict[str, str] = {}
        for cell in row.iterchildren("FL"):
            column = cell.get("val") or ""
            columns.setdefault(column, None)
            value = _text(cell)
            url = (cell.get("url") or "").strip()
            is_link = (cell.get("link") or "true").strip().lower() == "true"
            if url and is_link and _is_web_url(url):
                links.setdefault(str(index), {})[column] = url
                value = value or url
            cells[column] = value
        rows.append(cells)
    return _table(list(columns), rows, links, len(numbered))


def _declares_dtd(body: str) -> bool:
    pos = 0
    while True:
        m = _PROLOG_ITEM.match(body, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
    return body[pos : pos + 9].upper() == "<!DOCTYPE"


def _row_number(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _table(
    columns: list[str],
    rows: list[dict[str, str]],
    links: dict[str, dict[str, str]],
    total: int,
) -> RelatedTable:
    full = tuple({c: r.get(c, "") for c in columns} for r in rows)
    return RelatedTable(
        columns=tuple(columns),
        rows=full,
        links=links,
        total_rows=total,
        truncated=total > len(rows),
    )


def table_from_list(items: Sequence[Any]) -> RelatedTable:
    """The floodway extension: one row per map, keys as columns in first-appearance order;
    a value ``{"url": …, "text": …}`` is a link (http(s) only), other values their text form."""
    if any(not isinstance(item, Mapping) for item in items):
        return _invalid("every item of the returned list must be a map", INVALID_LIST)
    columns: dict[str, None] = {}
    rows: list[dict[str, str]] = []
    links: dict[str, dict[str, str]] = {}
    for index, item in enumerate(items[:MAX_ROWS]):
        cells: dict[str, str] = {}
        for key, value in item.items():
            column = key if isinstance(key, str) else text_form(key)
            columns.setdefault(column, None)
            if isinstance(value, Mapping) and isinstance(value.get("url"), str):
                url = value["url"].strip()
                shown = value.get("text")
                label = "" if shown is None else text_form(shown)
                if _is_web_url(url):
                    links.setdefault(str(index), {})[column] = url
                cells[column] = label or url
            else:
                cells[column] = "" if value is None else text_form(value)
        rows.append(cells)
    return _table(list(columns), rows, links, len(items))


class RelatedLists:
    """Runs function-fed related lists (``auto.related_lists``)."""

    def __init__(self, crm: Any, functions: Any, store: Any) -> None:
        self.crm = crm
        self.functions = functions
        self.store = store

    def attach(self) -> None:
        """Nothing to subscribe to: related lists run when a page asks."""

    def close(self) -> None:
        """Nothing to undo."""

    def run(
        self, related_list_id: str, module: str, record_id: str, user_id: str
    ) -> dict[str, Any]:
        """Run the related list for one record as ``user_id`` (who must be able to read it):
        ``{"columns","rows","links","message","error","total_rows","truncated",
        "execution_id"}``. Problems of the request (unknown or disabled list, another module,
        no right, missing record) raise ``AutomationError``; a failing run or unusable output is
        a result with ``error`` set."""
        item = enabled_item(self.store, "related_list", related_list_id, "related list")
        spec: RelatedList = item.spec
        if spec.module.lower() != str(module).lower():
            raise AutomationError(
                "NOT_FOUND",
                f"The related list '{spec.name}' is not on module {module}",
                {"id": str(related_list_id), "module": str(module)},
            )
        record = readable_records(self.crm, spec.module, [record_id], user_id)[0]
        live = live_function(self.functions, spec.function)
        arguments = render_arguments(self.crm, live, spec.arguments, spec.module, record)
        trigger = {
            "type": "related_list",
            "related_list": spec.name,
            "module": spec.module,
            "record_id": str(record["id"]),
        }
        try:
            result = self.functions.executor.run(
                live or spec.function, arguments, user_id=str(user_id), trigger=trigger
            )
        except Exception as exc:  # no live version, function deleted: nothing ran
            message = function_failed(exc)
            if message is None:
                raise
            return {**_invalid(message, f"{FAILED}: {message}").to_json(), "execution_id": None}
        if result.status != "success":
            message = str((result.error or {}).get("message") or "unknown error")
            table = RelatedTable(error=f"{FAILED}: {message}")
        elif isinstance(result.value, list) and not isinstance(result.value, str):
            table = table_from_list(result.value)
        else:
            value = result.value
            table = parse_related_xml(value if isinstance(value, str) else _as_text(value))
        if table.error is not None and result.status == "success":
            mark_failure(self.functions, result.id, f"{table.error}: {table.detail}")
        return {**table.to_json(), "execution_id": result.id}


def _as_text(value: Any) -> str:
    return "" if value is None else text_form(value)
