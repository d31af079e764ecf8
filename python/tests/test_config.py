from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from archon.config import Settings, all_env_names, parse_size

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_configuration_md() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in all_env_names() if f"`{name}`" not in text]
    assert missing == [], f"settings missing from docs/configuration.md: {missing}"


def test_every_setting_is_listed_in_env_example() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    missing = [name for name in all_env_names() if name not in listed]
    assert missing == [], f"settings missing from .env.example: {missing}"


def test_seed_variables_keep_their_names_and_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.backend_port, settings.mcp_port, settings.frontend_port) == (8080, 8051, 3737)
    assert settings.log_level == "INFO"
    assert settings.enable_cors is True
    assert settings.max_upload_size == 50 * 1024 * 1024
    assert settings.host == "127.0.0.1"
    assert settings.data_dir == Path("./data")


def test_settings_read_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_PORT", "9090")
    monkeypatch.setenv("MAX_UPLOAD_SIZE", "2MB")
    monkeypatch.setenv("ARCHON_CORS_ORIGINS", "http://a.test, http://b.test")
    monkeypatch.setenv("log_level", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.backend_port == 9090
    assert settings.max_upload_size == 2 * 1024 * 1024
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(("text", "expected"), [("50MB", 52428800), ("512k", 524288), ("1048576", 1048576),
                                                ("1.5 GB", 1610612736), ("10b", 10)])
def test_parse_size_accepts_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("env", "value"), [("BACKEND_PORT", "99999"), ("MAX_UPLOAD_SIZE", "lots"),
                                            ("ARCHON_CORS_ORIGINS", "*"), ("LOG_LEVEL", "chatty")])
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_cli_reports_an_invalid_value_in_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MCP_PORT": "not-a-port", "ARCHON_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "archon", "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "MCP_PORT" in lines[0]
    assert "Traceback" not in result.stderr


def test_loopback_detection() -> None:
    for host, loopback in [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
                           ("192.168.1.10", False), ("example.com", False)]:
        assert Settings(_env_file=None, ARCHON_HOST=host).is_loopback_bind is loopback  # type: ignore[call-arg]


def test_default_cors_origins_follow_the_dashboard_port() -> None:
    settings = Settings(_env_file=None, FRONTEND_PORT=4000)  # type: ignore[call-arg]
    assert settings.cors_origins == ["http://localhost:4000", "http://127.0.0.1:4000"]
    explicit = Settings(_env_file=None, FRONTEND_PORT=4000, ARCHON_CORS_ORIGINS="http://a.test")  # type: ignore[call-arg]
    assert explicit.cors_origins == ["http://a.test"]
