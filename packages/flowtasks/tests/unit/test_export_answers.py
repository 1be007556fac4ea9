"""What counts as a whole export answer: rows to the end, not an error or a cut stream after them."""

from __future__ import annotations

import pytest

from sentinel_flowtasks.export import _ends_in_a_row

ROWS = b'{"event_id": "a", "status": 200}\n{"event_id": "b", "error": "DB::Exception in a field"}\n'


@pytest.mark.parametrize(
    ("body", "whole"),
    [
        (ROWS, True),  # an error text inside a row's field is data
        (ROWS + b"Code: 396. DB::Exception: Limit for result exceeded. (TOO_MANY_ROWS_OR_BYTES)\n", False),
        (ROWS + b"__exception__\r\nabcd\r\nCode: 159. DB::Exception: Timeout exceeded\n", False),
        (ROWS[:-9], False),  # cut in the middle of a row
        (ROWS + b'{"event_id": "c"', False),
        (b'{"event_id": "only"}\n', True),
        (b"[1, 2]\n", False),
        (ROWS + b'{"exception": "Code: 241. DB::Exception: Memory limit exceeded"}\n', False),  # an error as a row
        (ROWS[:-3] + b'\xff"}\n', False),  # not UTF-8: not a row the server wrote
    ],
)
def test_an_answer_is_whole_only_when_it_ends_with_a_row(body: bytes, whole: bool) -> None:
    assert _ends_in_a_row(body) is whole
