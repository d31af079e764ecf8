"""docker-compose.yml and its Supabase variant: valid Compose, pinned images, loopback ports, the wiring."""

from __future__ import annotations

import ipaddress
import re

import jsonschema
import pytest

from archon.config import all_env_names
from tests.deploy.compose_files import (
    COMPOSE,
    ROOT,
    SUPABASE,
    InterpolationError,
    active_services,
    compose_schema,
    environment,
    load,
    model,
    plain,
)

# registry/name:tag, with a tag that names a version (never `latest` or a bare major).
PINNED_IMAGE = re.compile(r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
                          r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?:@sha256:[0-9a-f]{64})?$")


@pytest.mark.parametrize("path", [COMPOSE, SUPABASE], ids=lambda p: p.name)
def test_compose_file_matches_the_compose_specification(path: object) -> None:
    errors = sorted(jsonschema.Draft7Validator(compose_schema()).iter_errors(plain(load(path))),  # type: ignore[arg-type]
                    key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_schema_check_can_fail() -> None:
    broken = plain(load(COMPOSE))
    broken["services"]["backend"]["ports"] = [{"published": "8080", "target": "not-a-port", "bogus": 1}]
    assert list(jsonschema.Draft7Validator(compose_schema()).iter_errors(broken))


def test_every_image_is_well_formed_and_pinned() -> None:
    for path in (COMPOSE, SUPABASE):
        for name, service in (load(path).get("services") or {}).items():
            if "image" not in service:
                continue
            match = PINNED_IMAGE.match(service["image"])
            assert match, f"{path.name}: {name}: malformed image reference {service['image']!r}"
            tag = match["tag"]
            assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: pin a version, not {tag!r}"


def test_default_setup_publishes_every_port_on_loopback_only() -> None:
    config = model(COMPOSE)
    published = {}
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            host_ip, host_port, container_port = str(port).rsplit(":", 2)
            assert ipaddress.ip_address(host_ip).is_loopback, f"{name} publishes {port} beyond loopback"
            published[name, int(container_port)] = int(host_port)
    assert published == {("backend", 8080): 8080, ("backend", 8051): 8051, ("frontend", 3737): 3737}
    assert "ports" not in config["services"]["postgres"], "the database must stay on the compose network"


def test_env_file_ports_move_the_published_ports_not_the_container_ones() -> None:
    config = model(COMPOSE, env={"BACKEND_PORT": "9080", "MCP_PORT": "9051", "FRONTEND_PORT": "4737"})
    backend, frontend = config["services"]["backend"], config["services"]["frontend"]
    assert backend["ports"] == ["127.0.0.1:9080:8080", "127.0.0.1:9051:8051"]
    assert frontend["ports"] == ["127.0.0.1:4737:3737"]
    assert environment(backend)["BACKEND_PORT"] == "8080"  # what the container listens on
    assert environment(frontend)["BACKEND_PORT"] == "9080"  # what the browser connects to
    assert environment(backend)["ARCHON_CORS_ORIGINS"] == "http://localhost:4737,http://127.0.0.1:4737"


def test_backend_uses_the_bundled_postgres_through_database_url() -> None:
    config = model(COMPOSE, env={"POSTGRES_PASSWORD": "s3cret"})
    backend, postgres = config["services"]["backend"], config["services"]["postgres"]
    assert environment(backend)["DATABASE_URL"] == "postgresql://archon:s3cret@postgres:5432/archon"
    assert environment(postgres)["POSTGRES_PASSWORD"] == "s3cret"
    assert postgres["image"].startswith("pgvector/pgvector:") and postgres["image"].endswith("-pg17")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert backend["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert active_services(config) == {"postgres", "backend", "frontend"}


def test_backend_keeps_data_on_a_volume_and_binds_wide_only_behind_loopback_ports() -> None:
    config = model(COMPOSE)
    backend = config["services"]["backend"]
    env = environment(backend)
    assert env["ARCHON_DATA_DIR"] == "/data"
    assert any(v.endswith(":/data") for v in backend["volumes"])
    assert env["ARCHON_HOST"] == "0.0.0.0"
    # The insecure-bind override is only acceptable because every published port is on loopback.
    assert env["ARCHON_ALLOW_INSECURE_BIND"] == "true"
    assert all(str(p).startswith("127.0.0.1:") for p in backend["ports"])
    assert {"path": ".env", "required": False} in backend["env_file"]


def test_compose_sets_only_settings_archon_reads() -> None:
    known = set(all_env_names())
    config = model(COMPOSE, env={"DATABASE_URL": "postgresql://x@y/z"})
    unknown = sorted(set(environment(config["services"]["backend"])) - known)
    assert unknown == [], f"backend environment sets variables Archon does not read: {unknown}"


def test_supabase_variant_uses_database_url_and_skips_the_bundled_postgres() -> None:
    url = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres"
    config = model(COMPOSE, SUPABASE, env={"DATABASE_URL": url})
    backend = config["services"]["backend"]
    assert environment(backend)["DATABASE_URL"] == url
    assert not backend.get("depends_on"), "backend must not wait for a postgres service that is not started"
    assert active_services(config) == {"backend", "frontend"}
    assert all(str(p).startswith("127.0.0.1:") for p in backend["ports"])


def test_supabase_variant_without_database_url_stops_with_a_message() -> None:
    with pytest.raises(InterpolationError, match="DATABASE_URL"):
        model(COMPOSE, SUPABASE, env={})


def test_builds_point_at_the_dockerfiles() -> None:
    config = model(COMPOSE)
    backend, frontend = config["services"]["backend"]["build"], config["services"]["frontend"]["build"]
    assert (ROOT / backend["context"] / backend["dockerfile"]).is_file()
    assert (ROOT / frontend["context"] / frontend.get("dockerfile", "Dockerfile")).is_file()


def test_worker_profile_adds_job_workers_on_the_same_database() -> None:
    config = model(COMPOSE)
    worker, backend = config["services"]["worker"], config["services"]["backend"]
    assert "worker" not in active_services(config), "extra workers start only with --profile workers"
    assert "worker" in active_services(config, ("workers",))
    assert worker["command"] == ["archon", "worker"]
    assert worker["image"] == backend["image"] and "ports" not in worker
    assert worker["healthcheck"] == {"disable": True}, "the image's /health check needs the API listener"
    assert environment(worker) == environment(backend)
    assert any(v.endswith(":/data") for v in worker["volumes"]), "workers share the generated credentials key"


def test_supabase_variant_points_workers_at_database_url_too() -> None:
    url = "postgresql://u:p@db.example.test:5432/postgres"
    worker = model(COMPOSE, SUPABASE, env={"DATABASE_URL": url})["services"]["worker"]
    assert environment(worker)["DATABASE_URL"] == url and not worker.get("depends_on")


def test_every_variable_the_compose_files_read_is_in_env_example() -> None:
    used = set()
    for path in (COMPOSE, SUPABASE):
        used |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", path.read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert sorted(used - listed) == [], "document these in .env.example (and docs/deployment.md)"
