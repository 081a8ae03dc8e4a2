"""docker-compose.yml has the services, builds, health checks, volumes, env, profiles and GPU
reservation the deployment needs; checked structurally (our own rules, no vendored schema)."""

from __future__ import annotations

import re
from typing import Any

from tests.deploy.conftest import ROOT

TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "depends_on",
    "volumes", "ports", "expose", "healthcheck", "restart", "profiles", "deploy",
    "stop_grace_period", "networks", "user", "working_dir",
}  # fmt: skip
APP_SERVICES = ("web", "worker-gpu", "worker-cpu")


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_top_level_and_service_keys_are_known(compose: dict[str, Any]) -> None:
    assert set(k for k in compose if not k.startswith("x-")) <= TOP_LEVEL
    for name, service in _services(compose).items():
        unknown = set(service) - SERVICE_KEYS
        assert not unknown, f"{name}: unknown keys {unknown}"


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) == {
        "postgres", "redis", "web", "worker-gpu", "worker-cpu", "proxy",
    }  # fmt: skip


def test_every_service_has_a_pinned_image_or_a_build_of_an_existing_dockerfile(
    compose: dict[str, Any],
) -> None:
    for name, service in _services(compose).items():
        image = service.get("image", "")
        assert image and ":" in image and not image.endswith(":latest"), name
        if "build" in service:
            dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        else:
            assert re.search(r":\d+(\.\d+)+", image), f"{name}: pin an exact version ({image})"


def test_every_service_has_a_healthcheck_and_restart_policy(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        check = service.get("healthcheck")
        assert (
            check
            and isinstance(check["test"], list)
            and check["test"][0]
            in (
                "CMD",
                "CMD-SHELL",
            )
        ), name
        assert service.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_healthy_services(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in (*APP_SERVICES, "proxy"):
        depends = services[name]["depends_on"]
        for target, rule in depends.items():
            assert target in services
            assert rule["condition"] == "service_healthy", f"{name} -> {target}"
    for name in APP_SERVICES:
        assert {"postgres", "redis"} <= set(services[name]["depends_on"])


def test_app_services_read_env_file_and_share_database_broker_and_media(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"][0]["path"] == ".env", name
        env = service["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["DJANGO_ENV"] == "production"
        assert "media:/var/lib/moodtune/media" in service["volumes"], name
        assert env["MEDIA_ROOT"] == "/var/lib/moodtune/media"


def test_named_volumes_are_declared_and_hold_the_data(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for service in _services(compose).values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    assert any(v.startswith("pgdata:") for v in _services(compose)["postgres"]["volumes"])
    assert any(v.startswith("redisdata:") for v in _services(compose)["redis"]["volumes"])


def test_workers_are_profiles_and_the_gpu_one_reserves_an_nvidia_device(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    assert "profiles" not in services["web"]
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert services["worker-gpu"]["environment"]["ML_DEVICE"] == "cuda"
    assert services["worker-cpu"]["environment"]["ML_DEVICE"] == "cpu"
    assert "deploy" not in services["worker-cpu"]
    assert services["worker-gpu"]["build"]["args"]["VARIANT"].startswith("cu")
    assert services["worker-cpu"]["build"]["args"]["VARIANT"] == "cpu"


def test_commands_are_entrypoint_roles(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert services["web"]["command"] == ["web"]
    assert services["worker-gpu"]["command"] == services["worker-cpu"]["command"] == ["worker"]


def test_only_the_proxy_publishes_ports(compose: dict[str, Any]) -> None:
    services = _services(compose)
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}, "database, broker and the web server stay on the private network"


def _size_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([KMG]i?B)", text.strip()).groups()  # type: ignore[union-attr]
    base = 1024 if "i" in unit else 1000
    return int(number) * base ** "KMG".index(unit[0]) * base


def test_proxy_caps_uploads_above_the_frame_limit_and_never_serves_media(
    compose: dict[str, Any],
) -> None:
    from django.conf import settings

    caddyfile = (ROOT / "deploy" / "proxy" / "Caddyfile").read_text()
    mounted = [v for v in _services(compose)["proxy"]["volumes"] if "Caddyfile" in v]
    assert (ROOT / mounted[0].split(":")[0]).resolve() == ROOT / "deploy" / "proxy" / "Caddyfile"
    default = re.search(r"max_size \{\$PROXY_MAX_BODY_SIZE:([^}]+)\}", caddyfile)
    assert default, "request_body max_size comes from PROXY_MAX_BODY_SIZE"
    cap = _size_bytes(default.group(1))
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= cap <= 4 * settings.FRAME_MAX_BYTES
    assert "reverse_proxy web:8000" in caddyfile
    assert re.search(r"handle /media/\*\s*\{\s*respond 404", caddyfile)


def test_every_compose_variable_is_documented_in_env_example(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text() + (
        ROOT / "deploy" / "proxy" / "Caddyfile"
    ).read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text)) | set(
        re.findall(r"\{\$([A-Z_][A-Z0-9_]*)", text)
    )
    documented = _documented()
    assert used, "the compose file reads .env"
    assert used <= documented, used - documented


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_env_file_stays_out_of_git() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored
