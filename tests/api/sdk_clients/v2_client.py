"""Drive a live ``floodway serve`` with the official Zoho SDK ``zohocrmsdk2_0`` (API v2).

``python v2_client.py PORT CLIENT_JSON ADMIN_EMAIL WORKDIR``; exit code is the verdict, the last
line ``OK <steps>``.
"""

from __future__ import annotations

import json
import os
import sys

from zcrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zcrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zcrmsdk.src.com.zoho.api.logger import Logger
from zcrmsdk.src.com.zoho.crm.api import ParameterMap
from zcrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zcrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zcrmsdk.src.com.zoho.crm.api.record import APIException as RecordAPIException
from zcrmsdk.src.com.zoho.crm.api.record import (
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
    SearchRecordsParam,
)
from zcrmsdk.src.com.zoho.crm.api.related_records import RelatedRecordsOperations
from zcrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zcrmsdk.src.com.zoho.crm.api.user_signature import UserSignature
from zcrmsdk.src.com.zoho.crm.api.util import Choice

STEPS: list[str] = []


def step(name: str) -> None:
    STEPS.append(name)
    print("step", name, flush=True)


def body(response) -> object:
    try:
        return response.get_response_json()
    except Exception:
        return None


def wrap(**values: object) -> BodyWrapper:
    row = Record()
    for key, value in values.items():
        row.add_key_value(key, value)
    out = BodyWrapper()
    out.set_data([row])
    return out


def main() -> None:
    port, client_json, admin_email, workdir = (
        int(sys.argv[1]),
        sys.argv[2],
        sys.argv[3],
        sys.argv[4],
    )
    client = json.loads(client_json)
    base = f"http://127.0.0.1:{port}"
    Initializer.initialize(
        user=UserSignature(admin_email),
        environment=DataCenter.Environment(base, f"{base}/oauth/v2/token", base, "floodway"),
        token=OAuthToken(
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            refresh_token=client["refresh_token"],
        ),
        store=FileStore(os.path.join(workdir, "tokens.csv")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=workdir,
        logger=Logger.get_instance(Logger.Levels.INFO, os.path.join(workdir, "sdk.log")),
    )
    step("connected")
    ops = RecordOperations()

    created = ops.create_records(
        "Deals", wrap(Deal_Name="SDK v2 deal", Stage=Choice("Qualification"))
    )
    assert created.get_status_code() == 201, body(created)
    deal_id = int(created.get_object().get_data()[0].get_details()["id"])
    step("created")

    got = ops.get_record(deal_id, "Deals")
    assert got.get_status_code() == 200, body(got)
    assert got.get_object().get_data()[0].get_key_value("Deal_Name") == "SDK v2 deal"
    step("read")

    updated = ops.update_record(deal_id, "Deals", wrap(Stage=Choice("Closed Won")))
    assert updated.get_status_code() == 200, body(updated)
    again = ops.get_record(deal_id, "Deals").get_object().get_data()[0]
    assert again.get_key_value("Stage").get_value() == "Closed Won"
    step("updated")

    params = ParameterMap()
    params.add(SearchRecordsParam.criteria, "(Stage:equals:Closed Won)")
    found = ops.search_records("Deals", params)
    assert found.get_status_code() == 200, body(found)
    assert deal_id in [r.get_id() for r in found.get_object().get_data()]
    step("searched")

    params = ParameterMap()
    params.add(GetRecordsParam.page, 1)
    params.add(GetRecordsParam.per_page, 10)
    listed = ops.get_records("Deals", params)
    assert listed.get_status_code() == 200, body(listed)
    assert listed.get_object().get_info().get_more_records() is False
    step("listed")

    notes = RelatedRecordsOperations("Notes", "Deals").get_related_records(deal_id)
    assert notes.get_status_code() == 204, body(notes)
    step("related notes")

    bad = ops.create_records("Deals", wrap(Deal_Name="No stage"))
    assert bad.get_status_code() == 400, body(bad)
    err = bad.get_object().get_data()[0]
    assert isinstance(err, RecordAPIException)
    assert err.get_code().get_value() == "MANDATORY_NOT_FOUND"
    step("mandatory error")

    deleted = ops.delete_record(deal_id, "Deals")
    assert deleted.get_status_code() == 200, body(deleted)
    assert ops.get_record(deal_id, "Deals").get_status_code() == 204
    step("deleted")
    print("OK", len(STEPS), flush=True)


if __name__ == "__main__":
    main()
