"""``executeXPath`` on TEXT: XPath 1.0 over XML text, or over JSON text read as XML (§8.1, D-63).

XML is parsed by lxml with DTD loading, entity resolution and network access off and without the
huge-tree option (security.md LM-8); input is capped at 5 MB. JSON input becomes XML under an
extra ``<root>`` element, each key an element (``/root/address/city``) and each array element a
repetition of its key's element.

Results: an element as its XML, an attribute as an element named after the attribute
(``<href>…</href>``), a ``text()`` node as plain text; several results are concatenated. Numbers,
booleans and strings from XPath functions use the Deluge text form.
"""

from __future__ import annotations

import re
from typing import Any, Final
from xml.sax.saxutils import escape

from lxml import etree  # type: ignore[import-untyped]

from .context import Context
from .errors import DelugeRuntimeError
from .jsonparse import JSONSyntaxError, parse_json
from .values import DelugeList, DelugeMap, text_form

MAX_XML_CHARS: Final = 5 * 1024 * 1024
_XML_DECL: Final = re.compile(r"^\s*<\?xml[^>]*\?>")
_NAME_BAD: Final = re.compile(r"[^\w.\-]")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
    )


def _element_name(key: str) -> str:
    """A valid XML element name for a JSON key (invalid characters become '_')."""
    name = _NAME_BAD.sub("_", key) or "_"
    if not (name[0].isalpha() or name[0] == "_") or name.lower().startswith("xml"):
        name = "_" + name
    return name


def _json_to_xml(ctx: Context, value: Any) -> Any:
    """Build ``<root>…</root>`` from a parsed JSON value, iteratively."""
    root = etree.Element("root")
    # Work items: (parent element, element name, value)
    work: list[tuple[Any, str, Any]] = []

    def fill(elem: Any, v: Any, name: str) -> None:
        if type(v) is DelugeMap:
            for k, item in reversed(list(v.items())):
                work.append((elem, _element_name(str(k)), item))
        elif type(v) is DelugeList:
            for item in reversed(v):
                work.append((elem, name, item))
        else:
            elem.text = None if v is None else text_form(v)

    if type(value) is DelugeList:
        fill(root, value, "element")
    else:
        fill(root, value, "root")
    done = 0
    while work:
        parent, name, v = work.pop()
        done += 1
        if done % 10_000 == 0:
            ctx.check_deadline()
        if type(v) is DelugeList:
            # An array is the repetition of its key's element.
            for item in reversed(v):
                work.append((parent, name, item))
            continue
        child = etree.SubElement(parent, name)
        fill(child, v, name)
    return root


def _parse(ctx: Context, text: str) -> Any:
    if len(text) > MAX_XML_CHARS:
        raise DelugeRuntimeError("XML exceeds 5 MB")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            value = parse_json(
                stripped, check=ctx.check_deadline, max_items=ctx.limits.collection_items
            )
        except JSONSyntaxError:
            raise DelugeRuntimeError("Invalid JSON for executeXPath") from None
        return _json_to_xml(ctx, value)
    body = _XML_DECL.sub("", text, count=1)
    try:
        return etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError):
        raise DelugeRuntimeError("Invalid XML for executeXPath") from None


def _result_text(r: Any) -> str:
    if isinstance(r, etree._Element):
        return etree.tostring(r, encoding="unicode", with_tail=False)  # type: ignore[no-any-return]
    if isinstance(r, bool):
        return "true" if r else "false"
    if isinstance(r, float):
        if r.is_integer():
            return str(int(r))
        return repr(r)
    if isinstance(r, str):
        if getattr(r, "is_attribute", False):
            name = str(getattr(r, "attrname", "attribute"))
            name = etree.QName(name).localname if name.startswith("{") else name
            return f"<{name}>{escape(str(r))}</{name}>"
        return str(r)
    return str(r)


def execute_xpath(ctx: Context, text: str, path: str) -> str:
    """Evaluate ``path`` on XML or JSON ``text``; see the module docstring for the result form."""
    root = _parse(ctx, text)
    try:
        result = etree.XPath(path)(root)
    except (etree.XPathError, ValueError, TypeError):
        shown = path if len(path) <= 100 else path[:100] + "…"
        raise DelugeRuntimeError(f"Invalid XPath expression '{shown}'") from None
    ctx.check_deadline()
    if isinstance(result, list):
        return "".join(_result_text(r) for r in result)
    return _result_text(result)
