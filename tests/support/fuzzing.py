"""What the fuzz tests throw at the service (hypothesis strategies of hostile text) and what
they watch (every log record at ERROR, from any thread of the process)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from live_service import KK, NIK

# Examples per target and database: a modest number keeps the suite fast; a longer hunt is
# `SMS_KTP_FUZZ_EXAMPLES=2000 pytest tests/e2e/test_fuzz_webhooks.py`.
EXAMPLES = int(os.environ.get("SMS_KTP_FUZZ_EXAMPLES", "50"))
# One live server serves every example of a test, hence the function-scoped fixtures; nothing
# is saved between runs (no .hypothesis folder in the checkout).
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SQL_INJECTION = ("'; DROP TABLE application; --", "' OR '1'='1", "1; DELETE FROM outbox",
                 "\\'; DROP TABLE outbox; --", "3271014501900001' --")
TEMPLATE_INJECTION = ("{{7*7}}", "{% raw %}", "{% endraw %}{{7*7}}", "${7*7}", "#{7*7}",
                      "{{ config }}", "<%= 7*7 %>", "{{7*'7'}}")
NASTY = (*SQL_INJECTION, *TEMPLATE_INJECTION,
         "<script>alert(1)</script>", "\u202eLTR\u202c", "مرحبا بالعالم", "שלום", "👍🏽🇮🇩🙏",
         "e\u0301\u0302\u0303\u0304", "Z\u0324\u0354\u0367\u0311a\u0308\u0356l\u036e\u0312go",
         "\x00", "\x1b[31m", "\r\n\t", "%00", "%s%s%n", "\ufeff", "\u200b\u200d", "\ufffd",
         "𝕯𝕬𝕱𝕿𝕬𝕽", "ＤＡＦＴＡＲ", "٣٢٧١", "０８１２", "../../etc/passwd",
         "DAFTAR", "daftar", "REG", f"REG {NIK}#{KK}#2", f"DAFTAR {NIK}*{KK}*1*", NIK, KK,
         "STATUS", "STATUS 123456789", "CEK 999", "YA", "TIDAK", "BATAL", "BANTUAN",
         "BAHASA EN", "LANG XX", "JADWAL", "UBAH JADWAL", "BERHENTI", "MULAI", "1", "2", "4",
         "0", "00", "9", "*", "#", "", " ")
# A reference (9 digits), a masked NIK/KK (***0001) or a long number may contain "49" by chance;
# an evaluated template gives a bare 49.
_NUMBERS = re.compile(r"\*{3}\d+|\d{5,}")


def evaluated(text: str) -> bool:
    """Whether `text` holds a 49 that is not part of a longer number."""
    return "49" in _NUMBERS.sub("", text)


def texts(max_size: int = 200) -> st.SearchStrategy[str]:
    """Any text without surrogates: random Unicode (right-to-left, emoji, combining marks),
    control characters, injection strings, empty, and huge."""
    nasty = st.sampled_from(NASTY)
    return st.one_of(
        nasty,
        st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size),
        st.text(st.characters(max_codepoint=0x1F), max_size=20),
        st.lists(nasty, min_size=1, max_size=5).map(" ".join),
        st.tuples(nasty, st.integers(1, 3000)).map(lambda pair: pair[0] * pair[1]),
        st.integers(0, 20_000).map(lambda size: "A" * size),
    )


class ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger of the process (the server included)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextmanager
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
