"""Drive REST functions of a live ``floodway serve`` with ``zohocrmsdk8_0``'s FunctionsOperations.

Run as its own process (the SDK keeps one process-wide ``Initializer``):
``python functions_client.py PORT CLIENT_JSON WORKDIR``. The server must already hold the
published, REST-enabled functions ``deal_summary(String dealId)``, ``echo_request(map
crmAPIRequest)`` and ``divide(Int a, Int b)`` (tests/api/test_functions_sdk.py sets them up).
Every step asserts; the exit code is the verdict and the last line printed is ``OK <steps>``.
"""

from __future__ import annotations

import json
import os
import sys

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.functions import APIException as FunctionError
from zohocrmsdk.src.com.zoho.crm.api.functions import BodyWrapper as FunctionBody
from zohocrmsdk.src.com.zoho.crm.api.functions import FunctionsOperations
from zohocrmsdk.src.com.zoho.crm.api.functions import SuccessResponse as FunctionSuccess
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.record import BodyWrapper, Record, RecordOperations
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

STEPS: list[str] = []


def step(name: str) -> None:
    STEPS.append(name)
    print("step", name, flush=True)


def connect(base: str, client: dict[str, str], workdir: str) -> None:
    Initializer.initialize(
        environment=DataCenter.Environment(base, f"{base}/oauth/v2/token", base),
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


def success(response) -> dict:
    """The details of a function success envelope, parsed by the SDK."""
    assert response is not None
    assert response.get_status_code() == 200, (response.get_status_code(), raw(response))
    result = response.get_object()
    assert isinstance(result, FunctionSuccess), raw(response)
    assert result.get_code().get_value() == "success"
    assert result.get_message().get_value() == "function executed successfully"
    details = result.get_details()
    assert details["userMessage"] == []
    return details


def failure(response, status: int, code: str) -> dict:
    assert response.get_status_code() == status, (response.get_status_code(), raw(response))
    result = response.get_object()
    assert isinstance(result, FunctionError), raw(response)
    assert result.get_code().get_value() == code, result.get_code().get_value()
    assert result.get_status().get_value() == "error"
    return result.get_details()


def raw(response) -> object:
    try:
        return response.get_response_json()
    except Exception:
        return None


def main() -> None:
    port, client_json, workdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = json.loads(client_json)
    connect(f"http://127.0.0.1:{port}", client, workdir)
    step("connected")

    # A deal for the function to read through zoho.crm.getRecordById on the real store.
    row = Record()
    row.add_key_value("Deal_Name", "SDK function deal")
    row.add_key_value("Stage", Choice("Qualification"))
    body = BodyWrapper()
    body.set_data([row])
    created = RecordOperations("Deals").create_records(body)
    assert created.get_status_code() == 201, raw(created)
    deal_id = str(created.get_object().get_data()[0].get_details()["id"])
    step("deal created")

    # Form 1: GET ...?auth_type=oauth&arguments={'dealId': '...'} (a Python dict repr).
    fn = FunctionsOperations("deal_summary", auth_type="oauth", arguments={"dealId": deal_id})
    details = success(fn.execute_function_using_parameters())
    assert details["output_type"] == "string"
    assert json.loads(details["output"]) == {"deal": "SDK function deal", "stage": "Qualification"}
    assert details["id"]  # the token's user
    step("arguments as a Python literal")

    # Form 4: POST ...?auth_type=oauth with the map as a raw JSON body (no Content-Type).
    post_body = FunctionBody()
    post_body.set_body({"dealId": deal_id})
    details = success(
        FunctionsOperations("DEAL_SUMMARY", auth_type="oauth").execute_function_using_request_body(
            post_body
        )
    )
    assert json.loads(details["output"])["deal"] == "SDK function deal"
    step("raw JSON body")

    # crmAPIRequest sees the body, the parameters and the user; the token is not shown.
    post_body = FunctionBody()
    post_body.set_body({"order": {"id": 7, "items": ["a", "b"]}, "rush": True})
    details = success(
        FunctionsOperations(
            "echo_request", auth_type="oauth", arguments={"note": "with arguments"}
        ).execute_function_using_request_body(post_body)
    )
    assert details["output_type"] == "map"
    request = json.loads(details["output"])
    assert request["http_method"] == "POST"
    assert request["body"] == {"order": {"id": 7, "items": ["a", "b"]}, "rush": True}
    assert request["params"] == {"auth_type": "oauth", "arguments": "{'note': 'with arguments'}"}
    assert request["auth_type"] == "oauth"
    assert request["user"]["id"] == details["id"]
    assert "authorization" not in request["headers"]
    assert "x-zoho-sdk" in request["headers"]
    step("crmAPIRequest")

    # TEXT values converted to the declared types. (The SDK's ParameterMap cannot carry
    # parameters of its own naming: it sends the text 'None' for them, so separate query
    # parameters are exercised over plain HTTP in test_rest_functions.py.)
    details = success(
        FunctionsOperations(
            "divide", auth_type="oauth", arguments={"a": "84", "b": 2}
        ).execute_function_using_parameters()
    )
    assert details["output"] == "42" and details["output_type"] == "int"
    step("typed arguments")

    # Failures come back as the SDK's APIException with Zoho's codes.
    response = FunctionsOperations(
        "divide", auth_type="oauth", arguments={"a": 1, "b": 0}
    ).execute_function_using_parameters()
    failure(response, 400, "INTERNAL_ERROR")
    # The SDK keeps only api_name and permissions of the details; the raw JSON has the rest.
    details = raw(response)["details"]
    assert details["kind"] == "runtime" and details["execution_id"], details
    step("runtime error")
    bad = failure(
        FunctionsOperations(
            "divide", auth_type="oauth", arguments={"a": "many", "b": 1}
        ).execute_function_using_parameters(),
        400,
        "INVALID_DATA",
    )
    assert bad["api_name"] == "a"
    step("conversion error")
    failure(
        FunctionsOperations(
            "no_such_function", auth_type="oauth"
        ).execute_function_using_parameters(),
        404,
        "INVALID_URL_PATTERN",
    )
    failure(
        FunctionsOperations("not_exposed", auth_type="oauth").execute_function_using_parameters(),
        404,
        "INVALID_URL_PATTERN",
    )
    step("not found")
    print("OK", len(STEPS), flush=True)


if __name__ == "__main__":
    main()
