"""The shipped example project is valid: its functions compile (``floodway check``), the whole
project passes ``floodway deploy --dry-run`` on a fresh org, a real deploy applies it, and a
second deploy changes nothing. The packaged copy a wheel carries is the same directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from floodway.cli import app

from .conftest import EXAMPLE, cli

SECRETS = {
    "PM_CLIENT_ID": "client-id",
    "PM_CLIENT_SECRET": "client-secret",
    "ACCOUNTING_API_KEY": "accounting-key",
}
FUNCTIONS = sorted(p.stem for p in (EXAMPLE / "functions").glob("*.dg"))


def deploy_json(data: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = CliRunner().invoke(
        app,
        ["deploy", str(EXAMPLE), "--data", str(data), "--json", *extra],
        env=SECRETS if env is None else env,
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout)


def test_functions_compile() -> None:
    files = sorted(str(p) for p in (EXAMPLE / "functions").glob("*.dg"))
    assert len(files) == 12
    checked = cli("check", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == ""  # no warnings either


def test_dry_run_then_deploy_then_nothing_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, planned = deploy_json(data, "--dry-run")
    assert code == 0, planned
    assert planned["status"] == "success" and planned["dry_run"] is True
    assert sorted(planned["kinds"]["function"]["created"]) == FUNCTIONS
    assert sorted(planned["kinds"]["field"]["created"]) == [
        "Accounts.Customer_Tier",
        "Accounts.Total_Revenue",
        "Deals.Invoice_Number",
        "Deals.Invoice_Status",
        "Deals.Project_Link",
    ]
    assert sorted(planned["kinds"]["connection"]["created"]) == ["accounting", "pm_service"]

    code, applied = deploy_json(data)
    assert code == 0, applied
    assert sorted(applied["versions"]) == FUNCTIONS
    code, again = deploy_json(data)
    assert code == 0, again
    assert again["changed"] is False, again


def test_deploy_names_missing_connection_secrets(tmp_path: Path) -> None:
    code, refused = deploy_json(tmp_path / "data", "--dry-run", env={"PM_CLIENT_ID": "x"})
    assert code == 1
    assert refused["applied"] is False
    text = "\n".join(p["text"] for p in refused["problems"])
    assert "PM_CLIENT_SECRET" in text and "ACCOUNTING_API_KEY" in text


def test_wheel_carries_the_example(tmp_path: Path) -> None:
    """``setup.py``'s build step copies examples/crm-scenarios into the package, where
    ``floodway.demo.example_project`` looks first."""
    root = EXAMPLE.parents[1]
    built = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    packaged = tmp_path / "floodway" / "examples_data" / "crm-scenarios"
    shipped = sorted(p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file())
    assert sorted(p.relative_to(packaged) for p in packaged.rglob("*") if p.is_file()) == shipped
    for rel in shipped:
        assert (packaged / rel).read_bytes() == (EXAMPLE / rel).read_bytes()
    manifest = (root / "MANIFEST.in").read_text()
    assert "graft examples/crm-scenarios" in manifest
