"""The dashboard image's nginx: same CSP, headers, /config.json and SPA fallback as Archon's own static server.

The template is rendered the way the nginx image does at start-up (envsubst of BACKEND_PORT only). When
an `nginx` binary is installed (Debian's nginx-light), the rendered server block is run for real.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from archon.config import Settings
from archon.frontend.app import content_security_policy
from tests.conftest import free_port
from tests.deploy.compose_files import ROOT

TEMPLATE = ROOT / "archon-ui-main" / "nginx" / "default.conf.template"


def render(backend_port: int) -> str:
    """What the nginx image writes to conf.d: ${BACKEND_PORT} substituted, nginx's own $vars untouched."""
    return TEMPLATE.read_text().replace("${BACKEND_PORT}", str(backend_port))


def _headers(conf: str) -> dict[str, str]:
    return {m[0]: m[1] for m in re.findall(r'^\s*add_header ([\w-]+) "([^"]*)" always;', conf, flags=re.M)}


@pytest.mark.parametrize("port", [8080, 9080])
def test_nginx_csp_is_the_one_archon_serves(port: int) -> None:
    expected = content_security_policy(Settings(_env_file=None, ARCHON_HOST="0.0.0.0", BACKEND_PORT=port))  # type: ignore[call-arg]
    headers = _headers(render(port))
    assert headers["Content-Security-Policy"] == expected, "update archon-ui-main/nginx/default.conf.template"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


def test_template_leaves_only_backend_port_to_substitute() -> None:
    conf = render(8080)
    assert "${" not in conf
    assert "server_tokens off;" in conf
    assert re.search(r"try_files \$uri /index.html;", conf)
    assert "return 200 '{\"apiPort\": 8080}';" in conf


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, int]]:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.skip("no nginx binary here (apt-get install nginx-light runs this check for real)")
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Archon</title><div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log('archon')")
    port = free_port()
    server = render(9080).replace("listen 3737;", f"listen 127.0.0.1:{port};").replace("listen [::]:3737;", "")
    server = server.replace("root /usr/share/nginx/html;", f"root {dist};")
    temp = tmp_path / "tmp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 1; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        + ("user root;\n" if Path("/proc/self").stat().st_uid == 0 else "")
        + "events {}\nhttp {\n include /etc/nginx/mime.types; default_type application/octet-stream;\n"
        f" access_log off; client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
        f" fastcgi_temp_path {temp}/fcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;\n"
        f"{server}\n}}\n")
    test = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "error.log").read_text()
                time.sleep(0.05)
        yield base, 9080
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_nginx_serves_the_dashboard_like_archon(nginx: tuple[str, int]) -> None:
    base, api_port = nginx
    csp = content_security_policy(Settings(_env_file=None, ARCHON_HOST="0.0.0.0", BACKEND_PORT=api_port))  # type: ignore[call-arg]
    with httpx.Client(base_url=base, timeout=5) as client:
        for path in ("/", "/knowledge", "/projects/abc/tasks"):
            response = client.get(path)
            assert response.status_code == 200 and "<div id=root>" in response.text, path
            assert response.headers["content-security-policy"] == csp
            assert response.headers["x-frame-options"] == "DENY"
        asset = client.get("/assets/app.js")
        assert asset.status_code == 200 and "archon" in asset.text
        assert asset.headers["content-security-policy"] == csp
        assert client.get("/assets/missing.js").status_code == 404
        config = client.get("/config.json")
        assert config.json() == {"apiPort": api_port}
        assert config.headers["content-type"].startswith("application/json")
        assert config.headers["content-security-policy"] == csp
        assert "no-cache" in config.headers["cache-control"]
        assert re.fullmatch(r"nginx", config.headers["server"]), "server_tokens off hides the version"
