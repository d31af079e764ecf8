from __future__ import annotations

import logging
from pathlib import Path

import pytest

from archon.observability.logging import RedactingFilter, configure_logging

CANARY = "sk-canary-0123456789abcdef"


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    redactor = RedactingFilter([CANARY, "s3cretpass"])
    text = redactor.redact(
        f"key={CANARY} url=postgresql://archon:s3cretpass@db:5432/x Authorization: Bearer abc.def-123 "
        "https://x/?api_key=zzz&token=yyy sk-proj-AAAAAAAAAAAA"
    )
    assert CANARY not in text and "s3cretpass" not in text and "abc.def-123" not in text
    assert "zzz" not in text and "yyy" not in text and "sk-proj-AAAA" not in text


def test_log_file_rotates_in_the_data_dir_and_never_holds_a_secret(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging("INFO", tmp_path / "logs", secrets=[CANARY])
        log = logging.getLogger("archon.test")
        log.info("calling provider with %s", CANARY)
        try:
            raise ValueError(f"provider rejected {CANARY}")
        except ValueError:
            log.exception("failed")
        for handler in root.handlers:
            handler.flush()
        content = (tmp_path / "logs" / "archon.log").read_text()
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_archon", False):
                root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    assert "calling provider with ***" in content
    assert "provider rejected ***" in content  # the traceback is redacted too
    assert CANARY not in content


def test_log_level_is_respected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging("WARNING", None)
        logging.getLogger("archon.test").info("quiet")
        logging.getLogger("archon.test").warning("loud")
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_archon", False):
                root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])
    out = capsys.readouterr().out
    assert "loud" in out and "quiet" not in out
