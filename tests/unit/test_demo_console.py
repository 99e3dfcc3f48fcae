"""The demo's command line says its real defaults; the console shows colour emoji and an icon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox import demo

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "sandbox" / "slack" / "static"


def test_help_names_the_default_ports_and_the_environment_variable(capsys) -> None:
    with pytest.raises(SystemExit):
        demo._parser().parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for what, port in (("console", 8082), ("simulator", 8081), ("bot", 3000)):
        assert demo.DEFAULT_PORTS[{"console": "slack", "simulator": "rms"}.get(what, what)] == port
        assert f"{what} {port}" in shown, shown
    assert "DEMO_PORT_BASE" in shown
    assert "default: console 8082, simulator 8081, bot 3000" not in shown  # not an N, N+1, N+2


def test_demo_port_base_moves_all_three_ports(monkeypatch) -> None:
    monkeypatch.setenv("DEMO_PORT_BASE", "9000")
    seen = {}
    monkeypatch.setattr(demo, "asyncio", type("A", (), {"run": staticmethod(lambda c: 0)}))
    monkeypatch.setattr(demo, "run", lambda config, **kw: seen.setdefault("config", config))
    assert demo.main([]) == 0
    config = seen["config"]
    assert (config.slack_port, config.rms_port, config.bot_port) == (9000, 9001, 9002)
    args = demo._parser().parse_args(["--port-base", "7000"])
    assert demo.config_from(args).bot_port == 7002


def test_the_readme_says_how_to_move_the_demo_ports() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DEMO_PORT_BASE" in readme and "--port-base" in readme


def test_the_console_puts_colour_emoji_before_cjk_fonts_and_has_an_icon() -> None:
    css = (STATIC / "console.css").read_text(encoding="utf-8")
    [stack] = re.findall(r":root \{[^}]*?font-family: ([^;]+);", css, re.S)
    families = [f.strip().strip('"') for f in stack.split(",")]
    assert families.index("Console Emoji") < families.index("Noto Sans CJK JP")
    assert 'local("Noto Color Emoji")' in css and "U+1F000-1FAFF" in css
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<link rel="icon" href="[^"]+"', html)
