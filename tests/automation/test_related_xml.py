"""``parse_related_xml``: the related-list XML format of functions-platform.md §2.4, and hostile
XML that must not expand (security.md LM-8). Pure: no database."""

from __future__ import annotations

import time

import pytest

from floodway.automation.related_lists import (
    INVALID_LIST,
    INVALID_XML,
    MAX_ROWS,
    parse_related_xml,
    table_from_list,
)
from floodway.deluge.values import DelugeList, DelugeMap

SPEC_EXAMPLE = """
<record>
  <row no="0">
    <FL val="Invoice">INV-2026-0042</FL>
    <FL val="Issued">12 Jan 2026</FL>
    <FL val="Total">1980.0 EUR</FL>
    <FL val="Status">Paid</FL>
    <FL val="PDF" link="true" url="https://billing.example.com/pdf/42">Open</FL>
  </row>
  <row no="1">
    <FL val="Invoice">INV-2026-0057</FL>
    <FL val="Issued">03 Feb 2026</FL>
    <FL val="Total">245.5 EUR</FL>
    <FL val="Status">Open</FL>
    <FL val="PDF" link="true" url="https://billing.example.com/pdf/57">Open</FL>
  </row>
</record>
"""


def test_spec_example_becomes_a_table() -> None:
    t = parse_related_xml(SPEC_EXAMPLE)
    assert t.error is None and t.message is None
    assert t.columns == ("Invoice", "Issued", "Total", "Status", "PDF")
    assert t.rows[0] == {
        "Invoice": "INV-2026-0042",
        "Issued": "12 Jan 2026",
        "Total": "1980.0 EUR",
        "Status": "Paid",
        "PDF": "Open",
    }
    assert t.rows[1]["Invoice"] == "INV-2026-0057"
    assert t.links == {
        "0": {"PDF": "https://billing.example.com/pdf/42"},
        "1": {"PDF": "https://billing.example.com/pdf/57"},
    }
    assert t.total_rows == 2 and not t.truncated
    assert t.to_json()["rows"][1]["Total"] == "245.5 EUR"


def test_rows_are_ordered_by_no() -> None:
    xml = (
        '<record><row no="2"><FL val="A">c</FL></row><row no="0"><FL val="A">a</FL></row>'
        '<row no="10"><FL val="A">d</FL></row><row no="1"><FL val="A">b</FL></row></record>'
    )
    assert [r["A"] for r in parse_related_xml(xml).rows] == ["a", "b", "c", "d"]


def test_rows_without_no_keep_document_order_after_numbered_rows() -> None:
    xml = (
        '<record><row><FL val="A">x</FL></row><row><FL val="A">y</FL></row>'
        '<row no="5"><FL val="A">n5</FL></row><row no="bad"><FL val="A">z</FL></row>'
        '<row no=" 1 "><FL val="A">n1</FL></row></record>'
    )
    assert [r["A"] for r in parse_related_xml(xml).rows] == ["n1", "n5", "x", "y", "z"]
    plain = "<record><row><FL val='A'>1</FL></row><row><FL val='A'>2</FL></row></record>"
    assert [r["A"] for r in parse_related_xml(plain).rows] == ["1", "2"]


def test_equal_numbers_keep_document_order() -> None:
    xml = '<record><row no="0"><FL val="A">first</FL></row><row no="0"><FL val="A">second</FL></row></record>'
    assert [r["A"] for r in parse_related_xml(xml).rows] == ["first", "second"]


def test_columns_in_first_appearance_order_and_missing_cells_empty() -> None:
    xml = (
        '<record><row no="0"><FL val="Name">n1</FL><FL val="Phone">p1</FL></row>'
        '<row no="1"><FL val="Email">e2</FL><FL val="Name">n2</FL></row></record>'
    )
    t = parse_related_xml(xml)
    assert t.columns == ("Name", "Phone", "Email")
    assert t.rows == (
        {"Name": "n1", "Phone": "p1", "Email": ""},
        {"Name": "n2", "Phone": "", "Email": "e2"},
    )


def test_single_and_double_quotes() -> None:
    xml = "<record><row no='0'><FL val='Single'>s</FL><FL val=\"Double\">d</FL></row></record>"
    t = parse_related_xml(xml)
    assert t.columns == ("Single", "Double")
    assert t.rows[0] == {"Single": "s", "Double": "d"}


def test_quotes_inside_attribute_values() -> None:
    xml = """<record><row no="0"><FL val='Say "hi"'>x</FL><FL val="It's">y</FL></row></record>"""
    assert parse_related_xml(xml).columns == ('Say "hi"', "It's")


def test_escaped_characters_and_character_references() -> None:
    xml = (
        '<record><row no="0"><FL val="A &amp; B">Tom &amp; Jerry &lt;3 &gt; &quot;q&quot; '
        "&apos;a&apos; &#233;&#x20AC;</FL></row></record>"
    )
    t = parse_related_xml(xml)
    assert t.columns == ("A & B",)
    assert t.rows[0]["A & B"] == "Tom & Jerry <3 > \"q\" 'a' é€"


def test_cdata_is_plain_text_never_markup() -> None:
    xml = '<record><row no="0"><FL val="Note"><![CDATA[<b>bold</b> & <script>x</script>]]></FL></row></record>'
    assert parse_related_xml(xml).rows[0]["Note"] == "<b>bold</b> & <script>x</script>"


def test_cell_text_is_trimmed_and_nested_markup_gives_its_text() -> None:
    xml = '<record><row no="0"><FL val="A">\n   spaced   \n</FL><FL val="B">a<i>b</i>c</FL></row></record>'
    assert parse_related_xml(xml).rows[0] == {"A": "spaced", "B": "abc"}


def test_unicode_and_xml_declaration() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<record><row no="0"><FL val="Stadt">München 東京</FL></row></record>'
    assert parse_related_xml(xml).rows[0]["Stadt"] == "München 東京"
    bom = "\ufeff<record><row><FL val='A'>1</FL></row></record>"
    assert parse_related_xml(bom).rows[0]["A"] == "1"


def test_links() -> None:
    xml = (
        '<record><row no="0">'
        '<FL val="" link="true" url="https://a.test/1">Open</FL>'
        '<FL val="Plain" url="http://b.test/2">B</FL>'
        '<FL val="Off" link="false" url="https://c.test">C</FL>'
        '<FL val="Script" link="true" url="javascript:alert(1)">D</FL>'
        '<FL val="Empty" link="true" url="https://e.test/"></FL>'
        "</row></record>"
    )
    t = parse_related_xml(xml)
    assert t.columns == ("", "Plain", "Off", "Script", "Empty")
    assert t.links == {
        "0": {"": "https://a.test/1", "Plain": "http://b.test/2", "Empty": "https://e.test/"}
    }
    assert t.rows[0] == {
        "": "Open",
        "Plain": "B",
        "Off": "C",
        "Script": "D",
        "Empty": "https://e.test/",
    }


def test_empty_record_is_no_rows() -> None:
    for xml in ("<record></record>", "<record/>", "  <record>\n</record>  "):
        t = parse_related_xml(xml)
        assert t.error is None and t.rows == () and t.columns == () and t.total_rows == 0


def test_error_message_form() -> None:
    t = parse_related_xml("<error><message>No invoices for this account yet.</message></error>")
    assert t.message == "No invoices for this account yet."
    assert t.error is None and t.rows == ()
    assert parse_related_xml("<error><message><![CDATA[a < b]]></message></error>").message == (
        "a < b"
    )
    assert parse_related_xml("<error></error>").message == ""


@pytest.mark.parametrize(
    "xml",
    [
        "<record><row><FL val='A'>x</FL></row>",  # not closed
        "<record><row></record>",  # mismatched
        "just text",
        "<record><FL val=A>x</FL></record>",  # unquoted attribute
        "<record>&nbsp;</record>",  # undefined entity
        "<record>a & b</record>",  # unescaped ampersand
        "<record></record><record></record>",  # two roots
        "",
        "   ",
        "<record>\x00</record>",
    ],
)
def test_invalid_xml(xml: str) -> None:
    t = parse_related_xml(xml)
    assert t.error == INVALID_XML
    assert t.detail  # the parser's message, for the execution record
    assert t.rows == ()


def test_invalid_xml_detail_names_the_problem() -> None:
    t = parse_related_xml("<record><row></record>")
    assert "mismatch" in (t.detail or "").lower()


def test_other_root_is_invalid() -> None:
    t = parse_related_xml("<records><row><FL val='A'>x</FL></row></records>")
    assert t.error == INVALID_XML
    assert "<records>" in (t.detail or "")
    assert parse_related_xml("<html><body>x</body></html>").error == INVALID_XML


def test_more_than_200_rows_are_cut() -> None:
    rows = "".join(f'<row no="{i}"><FL val="N">{i}</FL></row>' for i in range(250, 0, -1))
    t = parse_related_xml(f"<record>{rows}</record>")
    assert len(t.rows) == MAX_ROWS
    assert t.truncated and t.total_rows == 250
    assert [r["N"] for r in t.rows[:3]] == ["1", "2", "3"]
    assert t.rows[-1]["N"] == "200"
    exact = "".join(f'<row no="{i}"><FL val="N">{i}</FL></row>' for i in range(MAX_ROWS))
    assert not parse_related_xml(f"<record>{exact}</record>").truncated


def test_billion_laughs_does_not_expand() -> None:
    lol = (
        '<?xml version="1.0"?>\n<!DOCTYPE record [\n<!ENTITY lol "lol">\n'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
            for i in range(1, 10)
        )
        + ']>\n<record><row no="0"><FL val="A">&lol9;</FL></row></record>'
    )
    started = time.perf_counter()
    t = parse_related_xml(lol)
    assert time.perf_counter() - started < 1.0
    assert t.error == INVALID_XML
    assert t.rows == ()
    assert "DTD" in (t.detail or "") or "DOCTYPE" in (t.detail or "")


def test_external_entities_are_not_read(tmp_path: object) -> None:
    from pathlib import Path

    secret = Path(str(tmp_path)) / "secret.txt"
    secret.write_text("TOP-SECRET")
    for xml in (
        f'<!DOCTYPE record [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<record><row><FL val="A">&x;</FL></row></record>',
        f'<!DOCTYPE record SYSTEM "file://{secret}"><record/>',
        '<!DOCTYPE record [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><record/>',
    ):
        t = parse_related_xml(xml)
        assert t.error == INVALID_XML
        assert "TOP-SECRET" not in repr(t)


def test_quadratic_blowup_with_internal_entity_is_refused() -> None:
    big = "x" * 50_000
    refs = "&a;" * 2_000
    xml = f'<!DOCTYPE record [<!ENTITY a "{big}">]><record><row><FL val="A">{refs}</FL></row></record>'
    t = parse_related_xml(xml)
    assert t.error == INVALID_XML and t.rows == ()


def test_input_over_5_mb_is_refused() -> None:
    xml = "<record>" + "<row><FL val='A'>x</FL></row>" * 200_000 + "</record>"
    assert len(xml) > 5 * 1024 * 1024
    t = parse_related_xml(xml)
    assert t.error == INVALID_XML and "5 MB" in (t.detail or "")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    xml = "<record>" + "<a>" * 300_000 + "</a>" * 300_000 + "</record>"
    t = parse_related_xml(xml)
    assert t.error == INVALID_XML


def test_list_of_maps_extension() -> None:
    items = DelugeList(
        [
            DelugeMap({"Name": "n1", "Amount": 12.5, "Open": {"url": "https://x.test/1"}}),
            DelugeMap({"Name": "n2", "Link": {"url": "https://x.test/2", "text": "Two"}}),
            DelugeMap({"Name": None, "Tags": DelugeList(["a", "b"]), "Bad": {"url": "ftp://x"}}),
        ]
    )
    t = table_from_list(items)
    assert t.error is None
    assert t.columns == ("Name", "Amount", "Open", "Link", "Tags", "Bad")
    assert t.rows[0]["Amount"] == "12.5"
    assert t.rows[0]["Open"] == "https://x.test/1"
    assert t.rows[1]["Link"] == "Two"
    assert t.rows[2]["Name"] == "" and t.rows[2]["Tags"] == "a,b"
    assert t.links == {"0": {"Open": "https://x.test/1"}, "1": {"Link": "https://x.test/2"}}
    assert "2" not in t.links  # ftp is not a web link
    assert table_from_list([]).rows == ()
    many = table_from_list([{"i": i} for i in range(300)])
    assert len(many.rows) == MAX_ROWS and many.truncated and many.total_rows == 300


def test_list_with_other_items_is_an_error() -> None:
    t = table_from_list([{"a": 1}, "text"])
    assert t.error == INVALID_LIST and t.rows == ()


def test_doctype_text_inside_a_cell_is_fine() -> None:
    xml = (
        "<!-- generated --><?pi x?>\n<record><row><FL val='Html'>"
        "<![CDATA[<!DOCTYPE html>]]></FL></row></record>"
    )
    t = parse_related_xml(xml)
    assert t.error is None and t.rows[0]["Html"] == "<!DOCTYPE html>"
    assert parse_related_xml("<!-- c --> <!DOCTYPE record><record/>").error == INVALID_XML
