"""The demo, run once for the whole session at DEBUG with everything it
says captured: several test modules read its summary, its files, its log
and its output, and a run takes half a minute."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from fulfilment.runners.cli import main
from fulfilment.runners.logs import Redactor

# Loggers ``configure_logging`` tunes for the whole process.
LIBRARY_LOGGERS = ("httpx", "mail.log")


class Capture(logging.Handler):
    """Every record as it was logged and as the runner's redactor writes it
    out, with the name of its logger; a record's exception is part of its
    text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, str]] = []
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        written = logging.makeLogRecord(dict(record.__dict__))
        Redactor([]).filter(written)
        self.lines.append((record.name, self._text(record), self._text(written)))

    def _text(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self._formatter.formatException(record.exc_info)
        return text


@contextlib.contextmanager
def captured_logs() -> Iterator[Capture]:
    """Every record of our loggers and the libraries', caught on the loggers
    themselves: the command under test replaces the root logger's handlers
    with its own (whose output is the standard error it writes)."""
    capture = Capture()
    loggers = [logging.getLogger(name) for name in ("fulfilment", *LIBRARY_LOGGERS)]
    for logger in loggers:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in loggers:
            logger.removeHandler(capture)


@attrs.frozen
class DemoRun:
    """``fulfilment --log-level DEBUG demo --json`` as it ended: its data
    folder, exit code, summary, what it printed and every log record."""

    folder: Path
    exit_code: int
    summary: dict[str, Any]
    stdout: str
    stderr: str  # the log as the command wrote it
    logs: list[tuple[str, str, str]]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    folder = tmp_path_factory.mktemp("demo")
    out, err = io.StringIO(), io.StringIO()
    command = ["--log-level", "DEBUG", "demo", "--json", "--data-dir", str(folder)]
    with (
        captured_logs() as logs,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(command)
    # The command's own handler writes to the stderr it was given; nothing
    # else may keep it.
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if any(isinstance(f, Redactor) for f in handler.filters):
            root.removeHandler(handler)
    return DemoRun(
        folder,
        code,
        json.loads(out.getvalue()),
        out.getvalue(),
        err.getvalue(),
        logs.lines,
    )
