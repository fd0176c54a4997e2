"""The command palette's answers (``GET /palette``): matches by group, and only what the viewer's
profile may open."""

from __future__ import annotations

import secrets
from typing import Any

from floodway.crm.testing import admin_actor

from .conftest import Console


def results(console: Console, q: str) -> list[dict[str, str]]:
    r = console.get("/palette", params={"q": q})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    found: list[dict[str, str]] = r.json()["results"]
    return found


def labels(found: list[dict[str, str]], group: str) -> list[str]:
    return [r["label"] for r in found if r["group"] == group]


def test_signed_out_palette_is_refused(anon: Console) -> None:
    r = anon.get("/palette", params={"q": "deal"}, follow_redirects=False)
    assert r.status_code in (303, 401)
    assert "results" not in r.text


def test_empty_query_offers_pages_and_first_actions(admin: Console) -> None:
    found = results(admin, "")
    pages = labels(found, "Pages")
    assert pages[0] == "Home" and len(pages) <= 6
    assert labels(found, "Actions") == ["New function", "New workflow rule", "New button"]
    assert all(r["group"] in ("Pages", "Actions") for r in found)


def test_finds_records_by_the_start_of_their_name(app: Any, admin: Console) -> None:
    crm = app.state.crm
    word = "Zephyr" + secrets.token_hex(3)
    made = crm.records.create(
        "Deals",
        [{"Deal_Name": f"{word} renewal", "Stage": "Qualification"}],
        actor=admin_actor(crm),
    )
    deal_id = made[0]["details"]["id"]
    found = results(admin, word.lower())
    [hit] = [r for r in found if r["group"] == "Records"]
    assert hit == {
        "group": "Records",
        "label": f"{word} renewal",
        "detail": "Deal",
        "href": f"/m/Deals/{deal_id}",
    }
    # The start of the name only, and a query with criteria syntax is just text.
    assert labels(results(admin, "renewal"), "Records") == []
    assert labels(results(admin, f"{word}:(x)"), "Records") == []


def test_finds_functions_pages_and_actions_by_every_word(app: Any, admin: Console) -> None:
    fx = app.state.functions
    api = "palette_" + secrets.token_hex(3)
    fx.registry.create(f'string standalone.{api}()\n{{\n    return "x";\n}}\n', publish=True)
    [fn] = [r for r in results(admin, api) if r["group"] == "Functions"]
    assert fn["href"] == f"/functions/{api}" and fn["detail"].startswith("standalone")
    assert labels(results(admin, "rules work"), "Pages") == ["Workflow rules"]
    assert "New Deal" in labels(results(admin, "new deal"), "Actions")


def test_rights_decide_what_the_palette_shows(
    app: Any, standard: Console, no_deals: Console
) -> None:
    crm = app.state.crm
    word = "Quokka" + secrets.token_hex(3)
    crm.records.create(
        "Deals", [{"Deal_Name": word, "Stage": "Qualification"}], actor=admin_actor(crm)
    )
    crm.records.create("Accounts", [{"Account_Name": word}], actor=admin_actor(crm))
    # Standard: records yes, functions and automation no.
    found = results(standard, word.lower())
    assert sorted(r["detail"] for r in found if r["group"] == "Records") == ["Account", "Deal"]
    assert not {"Functions", "Automation"} & {r["group"] for r in found}
    assert "Functions" not in labels(results(standard, "func"), "Pages")
    assert "New function" not in labels(results(standard, "new"), "Actions")
    # No Deals profile: the deal, the Deals page and "New Deal" are not offered.
    found = results(no_deals, word.lower())
    assert [r["detail"] for r in found if r["group"] == "Records"] == ["Account"]
    assert "Deals" not in labels(results(no_deals, "deals"), "Pages")
    assert "New Deal" not in labels(results(no_deals, "new"), "Actions")
