"""The files in deploy/ point at things that exist: every command of the Procfile and the systemd
units is a script of this package with a subcommand it has, the gunicorn app is a module with
an `app`, the example configuration loads; and deploy/gunicorn.conf.py reads its environment."""

from __future__ import annotations

import argparse
import importlib.util
import re
import runpy
import shlex
import sys
import types
from pathlib import Path

import click
import pytest

import sms_ktp
from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.platform.config import CONFIG_ENV, SECRET_ENV, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
INSTALLED = "/opt/sms-ktp/"  # where the units expect the checkout (and its .venv)
APP = "sms_ktp.web.wsgi:app"


def procfile() -> dict[str, str]:
    lines = (DEPLOY / "Procfile").read_text("utf-8").splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return sections


class Parsed(Exception):
    """The command line was understood: its command asked for the runtime."""


class NotStarted(Service):
    """A service that stops a command before it touches any configuration or database."""

    @property
    def runtime(self):  # type: ignore[no-untyped-def]
        raise Parsed


def check_command(command: str, *, installed: bool = False) -> None:
    """A command of this package, as a Procfile (on PATH, from the repository root) or a unit
    (absolute, under /opt/sms-ktp) writes it."""
    argv = shlex.split(command)
    program = argv[0]
    if installed:
        assert program.startswith(INSTALLED + ".venv/bin/"), program
        argv = [arg.replace(INSTALLED, f"{ROOT}/") for arg in argv]
        program = Path(program).name
    assert (BIN / program).exists(), f"{program} is not a script of this virtualenv"
    if program == "sms-ktp":
        try:
            cli.main(argv[1:], "sms-ktp", standalone_mode=False, obj=NotStarted())
        except click.UsageError as error:
            pytest.fail(f"sms-ktp has no such command: {command}: {error.format_message()}")
        except Parsed:
            pass
        else:
            pytest.fail(f"sms-ktp ran no command: {command}")
    elif program == "gunicorn":
        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("-c", "--config", required=True)
        options.add_argument("app")
        parsed = options.parse_args(argv[1:])
        assert (ROOT / parsed.config).is_file(), parsed.config
        assert parsed.app == APP
        module, attribute = parsed.app.split(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None
        assert re.search(rf"^{attribute}\b.*=", Path(spec.origin).read_text("utf-8"), re.M)
    else:
        pytest.fail(f"unexpected program {program}")


@pytest.mark.parametrize("command", ["sms-ktp wroker", "sms-ktp worker --twice",
                                     "sms-ktp init-db extra", "sms-ktp serve --port eighty"])
def test_a_command_line_sms_ktp_would_refuse_is_caught(command):
    with pytest.raises(pytest.fail.Exception, match="sms-ktp has no such command"):
        check_command(command)


def test_the_procfile_runs_init_db_the_web_app_and_a_worker():
    processes = procfile()
    assert set(processes) == {"release", "web", "worker"}
    assert processes["release"].split() == ["sms-ktp", "init-db"]
    assert processes["worker"].split() == ["sms-ktp", "worker"]
    assert "deploy/gunicorn.conf.py" in processes["web"]
    for command in processes.values():
        check_command(command)


def test_the_web_unit_upgrades_the_schema_then_serves_under_gunicorn():
    service = unit("sms-ktp-web.service")["Service"]
    assert [command for command in service["ExecStartPre"] if command.startswith(INSTALLED)] \
        == [INSTALLED + ".venv/bin/sms-ktp init-db"]
    for command in service["ExecStartPre"] + service["ExecStart"]:
        if command.startswith(INSTALLED):
            check_command(command, installed=True)
    [start] = service["ExecStart"]
    assert "gunicorn -c " + INSTALLED + "deploy/gunicorn.conf.py" in start
    assert service["Type"] == ["notify"]  # gunicorn's master notifies systemd when it is ready


@pytest.mark.parametrize("name", ["sms-ktp-web.service", "sms-ktp-worker@.service"])
def test_units_restart_always_as_a_user_of_their_own_with_the_environment_file(name):
    sections = unit(name)
    service = sections["Service"]
    assert service["Restart"] == ["always"]
    assert service["User"] == ["sms-ktp"] and service["Group"] == ["sms-ktp"]
    assert service["EnvironmentFile"] == ["/etc/sms-ktp/sms-ktp.env"]
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]
    assert service["StateDirectory"] == ["sms-ktp"]  # data_dir of config.production.toml
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]


def test_web_and_workers_share_one_prometheus_directory_that_no_unit_removes():
    """A scrape of a web process adds up the files of every process, workers included."""
    for name in ("sms-ktp-web.service", "sms-ktp-worker@.service"):
        service = unit(name)["Service"]
        assert "PROMETHEUS_MULTIPROC_DIR=/run/sms-ktp/prometheus" in service["Environment"]
        assert "sms-ktp/prometheus" in service["RuntimeDirectory"][0].split()
        assert service["RuntimeDirectoryPreserve"] == ["yes"]


def test_the_worker_unit_is_a_template_running_sms_ktp_worker():
    sections = unit("sms-ktp-worker@.service")
    [start] = sections["Service"]["ExecStart"]
    check_command(start, installed=True)
    assert start.endswith("sms-ktp worker")
    assert "%i" in sections["Unit"]["Description"][0]
    assert "sms-ktp-web.service" in sections["Unit"]["After"][0].split()


def test_the_environment_example_names_only_variables_something_reads():
    gunicorn_conf = (DEPLOY / "gunicorn.conf.py").read_text("utf-8")
    known = {CONFIG_ENV, *SECRET_ENV, "PROMETHEUS_MULTIPROC_DIR"}
    names = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (DEPLOY / "sms-ktp.env.example")
                       .read_text("utf-8"), re.M)
    assert {CONFIG_ENV, "SMS_KTP_DATABASE_URL", "SMS_KTP_SECRET_KEY",
            "PROMETHEUS_MULTIPROC_DIR"} <= set(names)
    for name in names:
        assert name in known or f'"{name}"' in gunicorn_conf, f"nothing reads {name}"


def test_the_production_configuration_loads_for_postgresql_without_embedded_worker():
    settings = load_settings(DEPLOY / "config.production.toml", environ={})
    assert settings.database.url.startswith("postgresql+psycopg://")
    assert settings.worker.embedded is False
    assert settings.gateway.provider == "africastalking"
    assert settings.data_dir == "/var/lib/sms-ktp"


def load_conf(monkeypatch: pytest.MonkeyPatch, **environment: str) -> dict[str, object]:
    for name in ("SMS_KTP_BIND", "PORT", "WEB_CONCURRENCY", "SMS_KTP_WEB_THREADS",
                 "SMS_KTP_ACCESS_LOG", "SMS_KTP_CONTROL_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_gunicorn_settings_for_two_cores_behind_a_proxy(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["bind"] == ["127.0.0.1:8080"]
    assert (conf["worker_class"], conf["workers"], conf["threads"]) == ("gthread", 2, 4)
    assert conf["accesslog"] is None and conf["preload_app"] is False
    assert conf["max_requests"] and conf["max_requests_jitter"]
    assert conf["timeout"] > 0 and conf["graceful_timeout"] > 0
    assert conf["control_socket_disable"] is True


def test_gunicorn_settings_from_the_environment(monkeypatch):
    conf = load_conf(monkeypatch, PORT="5000", WEB_CONCURRENCY="3", SMS_KTP_WEB_THREADS="2",
                     SMS_KTP_ACCESS_LOG="-")
    assert conf["bind"] == ["0.0.0.0:5000"]
    assert (conf["workers"], conf["threads"], conf["accesslog"]) == (3, 2, "-")
    assert "%(U)" not in str(conf["access_log_format"])  # the path carries the webhook token
    assert load_conf(monkeypatch, SMS_KTP_BIND="unix:/run/sms-ktp.sock", PORT="5000")["bind"] \
        == ["unix:/run/sms-ktp.sock"]
    with pytest.raises(SystemExit):
        load_conf(monkeypatch, WEB_CONCURRENCY="0")


def test_child_exit_marks_the_worker_dead_for_prometheus_when_metrics_exist(monkeypatch):
    conf = load_conf(monkeypatch)
    worker = types.SimpleNamespace(pid=4242)
    marked: list[int] = []
    metrics = types.ModuleType("sms_ktp.platform.metrics")
    metrics.mark_process_dead = marked.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sms_ktp.platform.metrics", metrics)
    monkeypatch.setattr(sms_ktp.platform, "metrics", metrics, raising=False)
    conf["child_exit"](None, worker)  # type: ignore[operator]
    assert marked == [4242]
    # no such module: nothing to do
    monkeypatch.setitem(sys.modules, "sms_ktp.platform.metrics", None)
    monkeypatch.delattr(sms_ktp.platform, "metrics", raising=False)
    conf["child_exit"](None, worker)  # type: ignore[operator]
