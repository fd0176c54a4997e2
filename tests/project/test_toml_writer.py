"""``write_trigger_tables``: pull writes the trigger tables into floodway.toml and keeps the rest
of the file as the user wrote it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from floodway.project.toml_writer import dump_trigger_tables, write_trigger_tables

EXISTING = '''\
# Acme's org

[org]
time_zone = "Europe/Berlin"

# Revenue rule, written by hand
[[workflow]]
name = "Old rule"
module = "Deals"
on = "create"

[[workflow.actions]]
function = "old"

# Thresholds read by the functions
[[variable]]
api_name = "note"
value = """two
[[workflow]]
lines"""

[[schedule]]
name = "Old schedule"
function = "nightly"
cron = "0 2 * * *"
'''

TABLES = {
    "workflow": [
        {
            "name": 'Say "hi"\tnow',
            "module": "Deals",
            "on": "field_update",
            "fields": ["Stage", "Amount"],
            "order": 2,
            "actions": [
                {"function": "rollup", "arguments": {"accountId": "${Deals.Account_Name.id}"}},
                {
                    "after": "3d",
                    "webhook": {
                        "url": "https://example.com/hook",
                        "headers": {"X-Key": "k", "odd key": "v"},
                        "body": '{"id": "${Deals.id}"}\n\u007f',
                    },
                },
            ],
        }
    ],
    "button": [{"name": "B", "module": "Deals", "function": "f", "placement": "list"}],
    "schedule": [
        {"name": "Weekly", "function": "nightly", "weekly": "mon 02:00", "catch_up": True}
    ],
}


def test_dumped_tables_parse_back_to_the_same_values() -> None:
    text = dump_trigger_tables(TABLES)
    data = tomllib.loads(text)
    assert data == TABLES
    assert text.startswith('[[workflow]]\nname = "Say \\"hi\\"\\tnow"\nmodule = "Deals"\n')
    assert '\n[[workflow.actions]]\nafter = "3d"\nwebhook = { url = ' in text


def test_rewrite_keeps_everything_else_and_replaces_the_trigger_tables(tmp_path: Path) -> None:
    path = tmp_path / "floodway.toml"
    path.write_text(EXISTING, "utf-8")
    report = write_trigger_tables(tmp_path, TABLES)
    assert report.changed and report.counts == {"workflow": 1, "button": 1, "schedule": 1}
    text = path.read_text("utf-8")
    data = tomllib.loads(text)
    assert {k: data[k] for k in TABLES} == TABLES
    assert data["org"] == {"time_zone": "Europe/Berlin"}
    assert data["variable"] == [{"api_name": "note", "value": "two\n[[workflow]]\nlines"}]
    assert text.startswith("# Acme's org\n\n[org]\n")
    assert "# Thresholds read by the functions\n[[variable]]" in text
    assert "Revenue rule, written by hand" not in text and "Old rule" not in text
    # The new tables take the place of the first old one.
    assert text.index("[[workflow]]") < text.index("[[variable]]")

    mtime = path.stat().st_mtime_ns
    assert not write_trigger_tables(tmp_path, TABLES).changed
    assert path.stat().st_mtime_ns == mtime and path.read_text("utf-8") == text

    assert write_trigger_tables(tmp_path, {}).changed
    emptied = tomllib.loads(path.read_text("utf-8"))
    assert set(emptied) == {"org", "variable"}


def test_a_missing_file_is_created_only_when_there_is_something_to_write(tmp_path: Path) -> None:
    assert not write_trigger_tables(tmp_path, {"workflow": []}).changed
    assert not (tmp_path / "floodway.toml").exists()
    assert write_trigger_tables(tmp_path, {"button": TABLES["button"]}).changed
    assert tomllib.loads((tmp_path / "floodway.toml").read_text("utf-8")) == {
        "button": TABLES["button"]
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[org\n", "not valid TOML"),
        ('workflow = [{ name = "x" }]\n', "inline arrays"),
    ],
)
def test_files_it_cannot_rewrite_safely_are_refused_untouched(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "floodway.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ValueError, match=words):
        write_trigger_tables(tmp_path, TABLES)
    assert path.read_text("utf-8") == text
