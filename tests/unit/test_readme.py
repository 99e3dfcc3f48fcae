"""The README documents every setting and both commands (kept true by this test)."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_lists_every_setting():
    text = README.read_text(encoding="utf-8")
    table = {
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    }
    assert set(Settings.env_names().values()) <= table


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text
