"""The fee form remembers which recorded fees it showed; a later record by someone else wins."""

from __future__ import annotations

import pytest

from core.shipping import is_stale_record
from handlers.parsing import FeeModalState, parse_fee_state


@pytest.mark.parametrize(
    "state",
    [
        FeeModalState("main", "n", "C1", "1.2"),
        FeeModalState("main", "n", "C1", "1.2", seen={}),
        FeeModalState("main", "n", "C1", "1.2", seen={7: 900}),
        FeeModalState("main", "n", "C1", "1.2", fees={7: 700}, seen={7: 900}),
        FeeModalState("main", "n", "C1", "1.2", fees={}, seen={}),
    ],
)
def test_the_form_state_survives_its_metadata(state: FeeModalState) -> None:
    assert parse_fee_state(state.pack()) == state


def test_metadata_written_before_seen_existed_still_reads() -> None:
    assert parse_fee_state("main|n|C1|1.2|7=700") == FeeModalState(
        "main", "n", "C1", "1.2", {7: 700}
    )


@pytest.mark.parametrize(
    "bad", ["main|n|C1|1.2|7=700|@7=900", "main|n|C1|1.2|@|@", "a|b|c|d|e|f|g"]
)
def test_metadata_we_did_not_write_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="metadata"):
        parse_fee_state(bad)


def test_a_record_made_after_the_form_opened_is_stale() -> None:
    assert is_stale_record({7: 900}, {})  # recorded by someone after the form opened
    assert is_stale_record({7: 900}, {7: 800})  # changed by someone since
    assert not is_stale_record({7: 900}, {7: 900})  # the form showed this record
    assert not is_stale_record(None, {})  # nothing recorded yet
    assert not is_stale_record({7: 900}, None)  # an older form: not known, as before
