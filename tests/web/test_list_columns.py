"""Columns per user in a module's list: the chosen ones in the chosen order after the name, for
that user only, kept across visits; a choice that cannot be used is refused next to the chooser
with the ticks kept; "Reset" goes back to the default; rights and CSRF as everywhere."""

from __future__ import annotations

import re
from typing import Any

from floodway.crm import Actor

from .conftest import Console


def headers(html: str) -> list[str]:
    head = html.split('id="results"')[1].split("<thead>")[1].split("</thead>")[0]
    cells = re.findall(r"<th[^>]*>(.*?)</th>", head, flags=re.S)
    return [re.sub(r"<[^>]+>|[▲▼]", "", c).strip() for c in cells][1:]  # without the tick box


def test_columns_are_chosen_and_ordered_per_user(
    app: Any, admin: Console, standard: Console
) -> None:
    crm = app.state.crm
    alice = crm.users.by_email("alice@example.test")
    crm.records.create(
        "Deals",
        [{"Deal_Name": "Columns deal", "Stage": "Qualification", "Amount": 1234}],
        actor=Actor(alice.id, "api", False),
    )
    default = headers(admin.get("/m/Deals").text)
    assert default[0] == "Deal Name" and "Modified" in default
    page = admin.get("/m/Deals")
    assert 'id="columns-chooser"' in page.text and 'name="pos_Amount"' in page.text

    r = admin.post(
        "/m/Deals/columns",
        {"col": ["Stage", "Amount", "Created_Time"], "pos_Amount": "1", "pos_Stage": "2"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/m/Deals?done=columns"
    mine = admin.get("/m/Deals")
    # Amount and Stage by their numbers; Created without one comes after them
    assert headers(mine.text) == ["Deal Name", "Amount", "Stage", "Created"]
    assert "Columns saved" in admin.get(r.headers["location"]).text
    assert "(your choice)" in mine.text
    assert headers(standard.get("/m/Deals").text) == default  # another user's list is theirs
    sorted_page = admin.get("/m/Deals?sort=Amount&order=desc")
    assert 'aria-sort="descending"' in sorted_page.text

    none = admin.post("/m/Deals/columns", {"pos_Amount": "1"})
    assert none.status_code == 422 and 'id="columns-problem"' in none.text
    assert "Tick at least one column." in none.text and " open>" in none.text
    many = admin.post(
        "/m/Deals/columns",
        {"col": [c for c in re.findall(r'name="col" value="([^"]+)"', mine.text)]},
    )
    assert many.status_code == 422 and "at most 12 columns" in many.text
    assert 'value="Stage" checked' in many.text  # the ticks are kept
    assert headers(admin.get("/m/Deals").text) == ["Deal Name", "Amount", "Stage", "Created"]

    # Unknown names are ignored; reset brings the default back.
    admin.post("/m/Deals/columns", {"col": ["Stage", "Not_A_Field"]})
    assert headers(admin.get("/m/Deals").text) == ["Deal Name", "Stage"]
    reset = admin.post("/m/Deals/columns", {"op": "reset"}, follow_redirects=False)
    assert reset.status_code == 303
    assert headers(admin.get("/m/Deals").text) == default


def test_choosing_columns_needs_the_module_and_a_csrf_token(
    app: Any, no_deals: Console, admin: Console
) -> None:
    assert no_deals.post("/m/Deals/columns", {"col": ["Stage"]}).status_code == 403
    assert admin.post("/m/Nope/columns", {"col": ["Stage"]}).status_code == 404
    raw = admin.client.post("/m/Deals/columns", data={"col": "Stage"})
    assert raw.status_code == 403
