"""Hypothesis-generated requests: whatever arrives, the API answers with a Zoho-shaped 2xx/4xx.

Paths are drawn from the real route shapes with random segments (versions, modules, ids,
relation names), random query parameters, methods, headers and bodies (valid JSON of random
shapes, broken JSON, binary junk), sent with a valid token and without one. The property: no 5xx,
and every non-204 response is JSON with Zoho's ``Content-Type``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import make_client

SEGMENT = st.one_of(
    st.sampled_from(
        [
            "Deals",
            "deals",
            "Accounts",
            "Contacts",
            "Leads",
            "Notes",
            "Tasks",
            "Products",
            "settings",
            "modules",
            "fields",
            "related_lists",
            "users",
            "org",
            "search",
            "upsert",
            "coql",
            "functions",
            "Attachments",
            "deleted",
            "1234567890123456789",
            "0",
            "-1",
            "99999999999999999999",
            "abc",
            "%00",
            "..",
            "Deals;drop",
        ]
    ),
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zs"), blacklist_characters="/?#%\\"),
        min_size=1,
        max_size=12,
    ),
)
# Weighted towards paths that reach the handlers: valid versions, authorised requests.
VERSION = st.sampled_from(["v2", "v2.1", "v3", "v8"] * 3 + ["v9", "V8", "", "x"])
PARAM_NAMES = st.sampled_from(
    [
        "fields",
        "page",
        "per_page",
        "page_token",
        "sort_by",
        "sort_order",
        "ids",
        "criteria",
        "email",
        "phone",
        "word",
        "module",
        "type",
        "converted",
        "wf_trigger",
        "grant_type",
        "client_id",
        "token",
        "x",
    ]
)
PARAM_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "(Stage:equals:Closed Won)",
            "((Amount:greater_than:5)and(Stage:in:a,b))",
            "(",
            "(Deal_Name:equals:\\\\(x\\))",
            "Deal_Name,Stage",
            "asc",
            "desc",
            "true",
            "FALSE",
            "CurrentUser",
            "Deals",
            "1,2,abc",
            "${EMPTY}",
            "(Owner.email:equals:a@b.c)",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "id",
                        "Deal_Name",
                        "Stage",
                        "Amount",
                        "Closing_Date",
                        "Account_Name",
                        "Owner",
                        "Last_Name",
                        "Email",
                        "Parent_Id",
                        "se_module",
                        "Note_Content",
                        "$append_values",
                        "Tag",
                        "Probability",
                        "Created_Time",
                    ]
                ),
                st.text(max_size=8),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.none(),
    st.builds(lambda rows: {"data": rows}, st.lists(JSON_VALUES, max_size=3)).map(
        lambda v: json.dumps(v).encode()
    ),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.sampled_from([b"{", b'{"data": [', b"\xff\xfe", b"[" * 80 + b"]" * 80]),
)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from floodway.crm import Crm

    crm, _ = Crm.open(data_dir=Path(tmp_path_factory.mktemp("fuzz")))
    sc = crm.oauth.create_self_client("fuzz")
    c = make_client(crm)
    token = c.post(
        "/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            **{k: sc[k] for k in ("refresh_token", "client_id", "client_secret")},
        },
    ).json()["access_token"]
    # Some records so reads, updates and relations have something to find.
    c.post(
        "/crm/v8/Accounts",
        headers={"Authorization": f"Bearer {token}"},
        json={"data": [{"Account_Name": "Fuzz Inc"}]},
    )
    yield c, token
    crm.engine.dispose()


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    prefix=st.sampled_from(["/crm"] * 6 + ["/oauth/v2", "/api", ""]),
    version=VERSION,
    segments=st.lists(SEGMENT, max_size=4),
    params=st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES), max_size=4),
    body=BODIES,
    content_type=st.sampled_from([None, "application/json", "text/plain", "multipart/form-data"]),
    authorised=st.sampled_from([True, True, True, False]),
)
def test_no_server_errors(
    fuzz_client: Any,
    method: str,
    prefix: str,
    version: str,
    segments: list[str],
    params: list[tuple[str, str]],
    body: bytes | None,
    content_type: str | None,
    authorised: bool,
) -> None:
    c, token = fuzz_client
    path = (
        "/".join([prefix, version, *segments])
        if prefix == "/crm"
        else "/".join([prefix, *segments])
    )
    if prefix == "/oauth/v2" and not segments:
        path = "/oauth/v2/token"
    headers = {}
    if authorised:
        headers["Authorization"] = f"Zoho-oauthtoken {token}"
    if content_type:
        headers["Content-Type"] = content_type
    response = c.request(method, path or "/", params=params, content=body, headers=headers)
    assert response.status_code < 500, (method, path, params, body, response.text)
    sent_to = response.request.url.path  # "/crm/v2/../.." is sent as "/"
    outside = not sent_to.startswith(("/crm/", "/oauth/", "/api/"))
    if outside and response.headers.get("content-type", "").startswith("text/html"):
        return  # outside the API prefixes the web console answers with its pages
    if response.status_code != 204:
        assert response.headers["content-type"] == "application/json;charset=UTF-8", response.text
        response.json()
