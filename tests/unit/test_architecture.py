"""Architecture rules checked on the source: SQL only in core/store/, no Slack SDK in core/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
STORE = CORE / "store"
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ")
SLACK_PACKAGES = ("slack_bolt", "slack_sdk")


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: a module/class/function body's first statement."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (node.body and isinstance(node.body[0], ast.Expr)):
            found.add(id(node.body[0].value))
    return found


def _string_parts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string literal that is not a docstring; an f-string as its joined literal text."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
            text = "".join(
                part.value
                for part in node.values
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            yield node.lineno, text
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            yield node.lineno, node.value


def sql_strings(path: Path, root: Path = CORE.parent) -> list[str]:
    """``file:line: text`` for each string literal in ``path`` holding an SQL statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(root)}:{line}: {text.strip()[:60]!r}"
        for line, text in sorted(_string_parts(tree))
        if any(word in text for word in SQL_WORDS)
    ]


def slack_imports(path: Path, root: Path = CORE.parent) -> list[str]:
    """``file:line: module`` for each import of the Slack SDKs in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [
            f"{path.relative_to(root)}:{node.lineno}: {name}"
            for name in names
            if name.split(".")[0] in SLACK_PACKAGES
        ]
    return found


def test_all_sql_lives_in_core_store() -> None:
    outside = [p for p in _core_modules() if STORE not in p.parents]
    assert outside, "no modules found under core/"
    offenders = [hit for path in outside for hit in sql_strings(path)]
    assert offenders == [], "SQL outside core/store/:\n" + "\n".join(offenders)


def test_core_does_not_import_slack() -> None:
    offenders = [hit for path in _core_modules() for hit in slack_imports(path)]
    assert offenders == [], "core/ imports a Slack SDK:\n" + "\n".join(offenders)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The detectors see SQL and Slack imports, and ignore docstrings that mention the words."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""Mentions INSERT and SELECT in a docstring."""\n'
        "import slack_sdk\n"
        "from slack_bolt.async_app import AsyncApp\n"
        "def f(t):\n"
        '    """UPDATE is only a word here."""\n'
        '    return t.rows(f"SELECT x FROM y WHERE z IN ({t})")\n'
        "class C:\n"
        '    """DELETE is only a word here."""\n'
        '    q = "DELETE FROM y"\n'
        '    label = "select a shop"\n',
        encoding="utf-8",
    )
    hits = sql_strings(probe, tmp_path)
    assert [hit.split(": ", 1)[0] for hit in hits] == ["probe.py:6", "probe.py:9"]
    imports = slack_imports(probe, tmp_path)
    assert [hit.rsplit(": ", 1)[1] for hit in imports] == ["slack_sdk", "slack_bolt.async_app"]
