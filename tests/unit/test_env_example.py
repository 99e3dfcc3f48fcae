""".env.example lists every setting, and nothing that looks like a real credential."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings, validate_settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def example_values() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match[1] not in found, f"{match[1]} is listed twice"
            found[match[1]] = match[2]
    return found


def settings_env_names() -> set[str]:
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


def test_env_example_lists_exactly_the_settings() -> None:
    assert set(example_values()) == settings_env_names()


def test_every_key_has_a_comment_above_it() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            assert lines[number - 1].startswith("#"), f"no comment above {line}"


def test_env_example_holds_no_realistic_tokens() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert not re.search(r"xox[abpe]-\d", text)
    assert not re.search(r"xapp-\d", text)
    secrets = [
        n.upper() for n, f in Settings.model_fields.items() if "Secret" in repr(f.annotation)
    ]
    assert secrets
    assert all(example_values()[key] == "" for key in secrets)


def test_env_example_only_lacks_the_credentials() -> None:
    settings, problems = validate_settings(env_file=str(ENV_EXAMPLE), environ={})
    assert settings is None
    assert all(" is missing" in line for line in problems), problems


def test_shops_example_is_a_valid_shops_file() -> None:
    env = {
        "SLACK_BOT_TOKEN": "placeholder",
        "SLACK_SIGNING_SECRET": "placeholder",
        "SHOPS_FILE": str(ROOT / "shops.example.toml"),
    }
    settings, problems = validate_settings(env_file=None, environ=env)
    assert problems == []
    assert settings is not None
    assert [shop.key for shop in settings.shops()] == ["main", "second"]
