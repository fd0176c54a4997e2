"""Drive a live ``floodway serve`` with the official Zoho SDK ``zohocrmsdk8_0`` (API v8).

Run as its own process (the SDK keeps one process-wide ``Initializer``):
``python v8_client.py PORT CLIENT_JSON WORKDIR``. Every step asserts; the exit code is the verdict
and the last line printed is ``OK <steps>``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.exception import SDKException
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.notes import BodyWrapper as NoteBody
from zohocrmsdk.src.com.zoho.crm.api.notes import Note, NotesOperations
from zohocrmsdk.src.com.zoho.crm.api.notes import ParentId as NoteParent
from zohocrmsdk.src.com.zoho.crm.api.record import APIException as RecordAPIException
from zohocrmsdk.src.com.zoho.crm.api.record import (
    BodyWrapper,
    DeleteRecordsParam,
    GetRecordsParam,
    Record,
    RecordOperations,
    SearchRecordsParam,
)
from zohocrmsdk.src.com.zoho.crm.api.record import SuccessResponse as RecordSuccess
from zohocrmsdk.src.com.zoho.crm.api.related_records import RelatedRecordsOperations
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

STEPS: list[str] = []


def step(name: str) -> None:
    STEPS.append(name)
    print("step", name, flush=True)


def connect(base: str, token: OAuthToken, workdir: str) -> None:
    environment = DataCenter.Environment(base, f"{base}/oauth/v2/token", base)
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(os.path.join(workdir, "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=workdir,
        logger=Logger.get_instance(Logger.Levels.INFO, os.path.join(workdir, "sdk.log")),
    )


def created_ids(response) -> list[int]:
    assert response.get_status_code() == 201, (response.get_status_code(), body(response))
    out = []
    for row in response.get_object().get_data():
        assert isinstance(row, RecordSuccess), body(response)
        assert row.get_status().get_value() == "success"
        assert row.get_code().get_value() == "SUCCESS"
        assert row.get_message().get_value() == "record added"
        out.append(int(row.get_details()["id"]))
    return out


def body(response) -> object:
    try:
        return response.get_response_json()
    except Exception:  # the SDK has no JSON for 204s
        return None


def record(name: str, **values: object) -> Record:
    row = Record()
    for key, value in values.items():
        row.add_key_value(key, value)
    return row


def wrap(*rows: Record) -> BodyWrapper:
    out = BodyWrapper()
    out.set_data(list(rows))
    return out


def main() -> None:
    port, client_json, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = json.loads(client_json)
    base = f"http://127.0.0.1:{port}"

    # 1. Refresh-token flow: the SDK posts the refresh token, then reads users and org.
    connect(
        base,
        OAuthToken(
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            refresh_token=client["refresh_token"],
        ),
        workdir,
    )
    step("connected")

    accounts = RecordOperations("Accounts")
    deals = RecordOperations("Deals")

    # 2. Accounts: create, read.
    [account_id] = created_ids(
        accounts.create_records(wrap(record("a", Account_Name="SDK v8 Account", Phone="555-0100")))
    )
    got = accounts.get_record(account_id)
    assert got.get_status_code() == 200, body(got)
    acc = got.get_object().get_data()[0]
    assert acc.get_key_value("Account_Name") == "SDK v8 Account"
    assert acc.get_id() == account_id
    step("account created and read")

    # 3. Deals: create with a lookup, a picklist, a currency and a date.
    account_ref = Record()
    account_ref.set_id(account_id)
    deal = record(
        "d",
        Deal_Name="SDK v8 deal",
        Stage=Choice("Qualification"),
        Amount=12500.5,
        Closing_Date=dt.date(2026, 3, 31),
        Account_Name=account_ref,
    )
    [deal_id] = created_ids(deals.create_records(wrap(deal)))
    fetched = deals.get_record(deal_id).get_object().get_data()[0]
    assert fetched.get_key_value("Deal_Name") == "SDK v8 deal"
    assert fetched.get_key_value("Stage").get_value() == "Qualification"
    assert fetched.get_key_value("Amount") == 12500.5
    assert fetched.get_key_value("Closing_Date") == dt.date(2026, 3, 31)
    lookup = fetched.get_key_value("Account_Name")
    assert int(lookup.get_id()) == account_id, lookup
    assert fetched.get_key_value("Owner") is not None
    step("deal created and read")

    # 4. Update: single (id in path) and bulk.
    updated = deals.update_record(deal_id, wrap(record("u", Stage=Choice("Closed Won"))))
    assert updated.get_status_code() == 200, body(updated)
    row = updated.get_object().get_data()[0]
    assert row.get_message().get_value() == "record updated"
    again = deals.get_record(deal_id).get_object().get_data()[0]
    assert again.get_key_value("Stage").get_value() == "Closed Won"
    bulk = record("b", Amount=99.0)
    bulk.set_id(deal_id)
    assert deals.update_records(wrap(bulk)).get_status_code() == 200
    assert deals.get_record(deal_id).get_object().get_data()[0].get_key_value("Amount") == 99.0
    step("deal updated")

    # 5. Search.
    params = ParameterMap()
    params.add(SearchRecordsParam.criteria, "(Deal_Name:equals:SDK v8 deal)")
    found = deals.search_records(params)
    assert found.get_status_code() == 200, body(found)
    assert [r.get_id() for r in found.get_object().get_data()] == [deal_id]
    params = ParameterMap()
    params.add(
        SearchRecordsParam.criteria, "((Stage:equals:Closed Won)and(Amount:greater_than:50))"
    )
    assert deals.search_records(params).get_status_code() == 200
    params = ParameterMap()
    params.add(SearchRecordsParam.criteria, "(Deal_Name:equals:no such deal)")
    assert deals.search_records(params).get_status_code() == 204
    step("searched")

    # 6. Paging: five more deals, two per page.
    more = created_ids(
        deals.create_records(
            wrap(
                *[
                    record("p", Deal_Name=f"Page deal {i}", Stage=Choice("Qualification"))
                    for i in range(5)
                ]
            )
        )
    )
    assert len(more) == 5
    seen: list[int] = []
    page = 1
    while True:
        params = ParameterMap()
        params.add(GetRecordsParam.page, page)
        params.add(GetRecordsParam.per_page, 2)
        params.add(GetRecordsParam.fields, "Deal_Name,Stage")
        listed = deals.get_records(params)
        if listed.get_status_code() == 204:
            break
        assert listed.get_status_code() == 200, body(listed)
        wrapper = listed.get_object()
        rows = wrapper.get_data()
        assert len(rows) <= 2
        seen.extend(r.get_id() for r in rows)
        info = wrapper.get_info()
        assert info.get_per_page() == 2 and info.get_page() == page
        if not info.get_more_records():
            break
        page += 1
    assert sorted(seen) == sorted([deal_id, *more]), seen
    assert len(seen) == len(set(seen))
    step("paged")

    # 7. Notes: create one on the deal, then read the related list.
    notes_before = RelatedRecordsOperations("Notes", "Deals").get_related_records(deal_id)
    assert notes_before.get_status_code() == 204, body(notes_before)
    note = Note()
    note.set_note_title("Call back")
    note.set_note_content("Asked for a quote")
    parent = NoteParent()
    parent.set_id(deal_id)
    parent.set_module(_module("Deals"))
    note.set_parent_id(parent)
    note_body = NoteBody()
    note_body.set_data([note])
    made = NotesOperations().create_notes(note_body)
    assert made.get_status_code() == 201, body(made)
    related = RelatedRecordsOperations("Notes", "Deals").get_related_records(deal_id)
    assert related.get_status_code() == 200, body(related)
    notes = related.get_object().get_data()
    assert len(notes) == 1
    assert notes[0].get_key_value("Note_Content") == "Asked for a quote"
    step("notes")

    # 8. Related deals of the account.
    rel = RelatedRecordsOperations("Deals", "Accounts").get_related_records(account_id)
    assert rel.get_status_code() == 200, body(rel)
    assert [r.get_id() for r in rel.get_object().get_data()] == [deal_id]
    step("related deals")

    # 9. Error paths: missing mandatory field, bad id, unknown id.
    bad = deals.create_records(wrap(record("m", Deal_Name="No stage")))
    assert bad.get_status_code() == 400, body(bad)
    err = bad.get_object().get_data()[0]
    assert isinstance(err, RecordAPIException), err
    assert err.get_code().get_value() == "MANDATORY_NOT_FOUND"
    assert err.get_details()["api_name"] == "Stage"
    assert deals.get_record(1234567890123456789).get_status_code() == 204
    upd = deals.update_record(1234567890123456789, wrap(record("x", Amount=1.0)))
    assert upd.get_status_code() == 400, body(upd)
    assert upd.get_object().get_data()[0].get_code().get_value() == "INVALID_DATA"
    step("errors")

    # 10. Delete: one by id, the rest in bulk.
    gone = deals.delete_record(deal_id)
    assert gone.get_status_code() == 200, body(gone)
    assert gone.get_object().get_data()[0].get_message().get_value() == "record deleted"
    assert deals.get_record(deal_id).get_status_code() == 204
    params = ParameterMap()
    for i in more:
        params.add(DeleteRecordsParam.ids, str(i))
    assert deals.delete_records(params).get_status_code() == 200
    assert accounts.delete_record(account_id).get_status_code() == 200
    step("deleted")

    # 11. A bad token: 401 INVALID_TOKEN, no retry.
    Initializer.switch_user(
        token=OAuthToken(access_token="1000." + "0" * 32 + "." + "0" * 32, find_user=False)
    )
    # The SDK reads field metadata first with the new token; the 401 surfaces as its exception.
    try:
        denied = deals.get_records()
    except SDKException as exc:
        assert "INVALID_TOKEN" in str(exc), exc
    else:
        assert denied.get_status_code() == 401, body(denied)
        assert denied.get_object().get_code().get_value() == "INVALID_TOKEN"
    step("bad token")
    print("OK", len(STEPS), flush=True)


def _module(name: str):
    from zohocrmsdk.src.com.zoho.crm.api.modules import MinifiedModule

    module = MinifiedModule()
    module.set_api_name(name)
    return module


if __name__ == "__main__":
    main()
