"""MessageModel helpers and the request checks shared by the order functions."""

from __future__ import annotations

from typing import Any

Reply = tuple[int, dict[str, Any]]
MAX_NUMBERS = 100


def message(kind: str, code: str, text: str, number: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"messageType": kind, "messageCode": code, "message": text}
    if number is not None:
        entry["orderNumber"] = number
    return entry


def error(prefix: str, suffix: str, text: str) -> dict[str, Any]:
    return message("ERROR", f"ORDER_EXT_API_{prefix}_ERROR_{suffix}", text)


def missing(prefix: str, name: str) -> dict[str, Any]:
    return error(prefix, "009", f"{name}の項目を指定して下さい。")


def bad(prefix: str, name: str) -> dict[str, Any]:
    return error(prefix, "011", f"{name}の書式が不正です。")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def numbers_errors(prefix: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    numbers = body.get("orderNumberList")
    if numbers is None:
        return [missing(prefix, "orderNumberList")]
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        return [bad(prefix, "orderNumberList")]
    if not numbers:
        return [error(prefix, "010", "orderNumberListの値を指定して下さい。")]
    if len(numbers) > MAX_NUMBERS:
        return [error(prefix, "012", "orderNumberListは100件以内で指定して下さい。")]
    return []
