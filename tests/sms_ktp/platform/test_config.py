"""Configuration: the example file, secrets from the environment, refusals that say why."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from sms_ktp.platform.config import ConfigError, Settings, ensure_webhook_token, load_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def leaves(value, prefix=""):
    for f in dataclasses.fields(value):
        if f.name == "source":
            continue
        inner = getattr(value, f.name)
        if dataclasses.is_dataclass(inner):
            yield from leaves(inner, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


# Tables the adapters read themselves (documented key by key in the example all the same), and
# tables whose keys are data (a kelurahan's phone by its code: none in the example).
ADAPTER_TABLES = ("gateway.gammu", "gateway.http", "kelurahan.phones",
                  "gateway.whatsapp.templates")


def flatten(table, prefix="", adapters=True):
    """Every key of the TOML `table`; an adapter's table as one key when `adapters`."""
    for key, value in table.items():
        if adapters and f"{prefix}{key}" in ADAPTER_TABLES:
            yield f"{prefix}{key}"
        elif isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.", adapters)
        else:
            yield f"{prefix}{key}"


def test_the_example_documents_every_key_and_loads(tmp_path):
    documented = set(flatten(tomllib.loads(EXAMPLE.read_text("utf-8"))))
    assert documented == set(leaves(Settings()))
    settings = load_settings(EXAMPLE, environ={})
    assert settings.database.url == Settings().database.url
    text = EXAMPLE.read_text("utf-8")
    every_key = set(flatten(tomllib.loads(text), adapters=False))
    lines = text.splitlines()
    for key in every_key:  # each key has a comment line right above it
        name = key.rsplit(".", 1)[-1]
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ="))
        assert lines[index - 1].startswith("#"), key


def test_no_file_gives_the_embedded_default():
    settings = load_settings(None, environ={})
    assert (settings.database.url, settings.gateway.provider, settings.worker.embedded) == (
        "sqlite:///var/sms-ktp.db", "console", True)


def test_secrets_come_from_the_environment(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[gateway]\nprovider = "africastalking"\n')
    settings = load_settings(config, environ={"SMS_KTP_AT_API_KEY": "k3y",
                                              "SMS_KTP_WEBHOOK_TOKEN": "tok"})
    assert settings.gateway.africastalking.api_key == "k3y"
    assert settings.gateway.webhook_token == "tok"
    assert load_settings(None, environ={"SMS_KTP_CONFIG": str(config)}).source == str(config)


@pytest.mark.parametrize(("content", "message"), [
    ("[gateway]\nprovder = 'console'\n", "unknown key [gateway] provder"),
    ("[worker]\nbatch_size = 'many'\n", "[worker] batch_size must be int"),
    ("[worker]\nembedded = 1\n", "[worker] embedded must be bool"),
    ("[gateway]\nprovider = 'pigeon'\n", "unknown [gateway] provider"),
    ("[gateway]\nfallback = 'pigeon'\n", "unknown [gateway] fallback 'pigeon'"),
    ("[gateway]\nfallback = 'console'\n", "[gateway] fallback must differ from provider"),
    ("[gateway]\nfallback = 'africastalking'\nfailover_after = 0\n",
     "[gateway] failover_after must be at least 1"),
    ("[gateway.console]\nrate_per_second = -1\n",
     "[gateway.console] rate_per_second must not be negative"),
    ("[gateway]\nprovider = 'gammu'\n[gateway.gammu]\nrate_per_second = 'fast'\n",
     "[gateway.gammu] rate_per_second must be a number"),
    ("database = 'x'\n", "[top] database must be a table"),
    ("[database\n", "c.toml"),
])
def test_a_wrong_file_is_refused_with_the_reason(tmp_path, content, message):
    config = tmp_path / "c.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(config, environ={})


def test_adapter_secrets_come_from_the_environment_into_their_tables(tmp_path):
    settings = load_settings(None, environ={"SMS_KTP_HTTP_API_KEY": "s3cret",
                                            "SMS_KTP_GAMMU_DATABASE_URL": "postgresql://g"})
    assert settings.gateway.http["api_key"] == "s3cret"
    assert settings.gateway.gammu["database_url"] == "postgresql://g"


def test_a_primary_and_a_fallback(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[gateway]\nprovider = "africastalking"\nfallback = "console"\n'
                      'failover_after = 5\nretry_primary_seconds = 60\n'
                      '[gateway.africastalking]\nrate_per_second = 20\n')
    gateway = load_settings(config, environ={}).gateway
    assert (gateway.provider, gateway.fallback, gateway.failover_after,
            gateway.retry_primary_seconds, gateway.africastalking.rate_per_second) == (
        "africastalking", "console", 5, 60.0, 20.0)


def test_the_webhook_token_is_generated_once(tmp_path):
    settings = Settings(data_dir=str(tmp_path))
    token = ensure_webhook_token(settings)
    assert len(token) >= 30
    again = Settings(data_dir=str(tmp_path))
    assert ensure_webhook_token(again) == token


def test_processes_starting_together_agree_on_the_generated_secrets(tmp_path):
    import threading

    from sms_ktp.platform.config import Settings, ensure_secret_key, ensure_webhook_token

    barrier = threading.Barrier(12)
    seen: list[tuple[str, str]] = []

    def start() -> None:
        settings = Settings(data_dir=str(tmp_path))
        barrier.wait(10)
        seen.append((ensure_webhook_token(settings), ensure_secret_key(settings)))

    threads = [threading.Thread(target=start) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(seen) == 12 and len(set(seen)) == 1
    token, key = seen[0]
    assert len(token) >= 32 and len(key) >= 43
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key", "webhook_token"]
    assert (tmp_path / "webhook_token").stat().st_mode & 0o077 == 0


def test_the_whatsapp_channel_is_off_until_its_number_is_set_and_then_needs_its_secrets(
        tmp_path):
    assert not load_settings(None, environ={}).gateway.whatsapp.enabled
    config = tmp_path / "config.toml"
    config.write_text('[gateway.whatsapp]\nphone_number_id = "1234567890"\n'
                      'access_token = "EAAG"\n')
    with pytest.raises(ConfigError, match="app_secret, verify_token is empty"):
        load_settings(config, environ={})
    whatsapp = load_settings(config, environ={"SMS_KTP_WHATSAPP_APP_SECRET": "s3cret",
                                              "SMS_KTP_WHATSAPP_VERIFY_TOKEN": "v3rify"}
                             ).gateway.whatsapp
    assert (whatsapp.enabled, whatsapp.app_secret, whatsapp.verify_token) == (
        True, "s3cret", "v3rify")


@pytest.mark.parametrize(("extra", "message"), [
    ('api_url = "http://graph.example.com"\n', "api_url must be https"),
    ('[gateway.whatsapp.templates]\npickup = { name = "ktp_siap" }\n', "pickup needs a name and"),
    ('[gateway.whatsapp.templates]\npickup = { name = "ktp_siap", language = "id" }\n',
     "pickup: no such notice; `sms-ktp whatsapp templates` lists them"),
    ('[gateway.whatsapp.templates]\nnotify.pickup_scheduled = { name = "a", language = "ms" }\n',
     "notify.pickup_scheduled: language 'ms' has no catalogue"),
])
def test_a_wrong_whatsapp_setting_stops_the_start(tmp_path, extra, message):
    config = tmp_path / "config.toml"
    config.write_text('[gateway.whatsapp]\nphone_number_id = "1"\naccess_token = "t"\n'
                      'app_secret = "s"\nverify_token = "v"\n' + extra)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_templates_are_named_by_the_notice_s_dotted_key_or_a_general_kind(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[gateway.whatsapp]\nphone_number_id = "1"\naccess_token = "t"\napp_secret = "s"\n'
        'verify_token = "v"\n[gateway.whatsapp.templates]\n'
        'notify.pickup_scheduled = { name = "ktp_jadwal_ambil", language = "id" }\n'
        '"notify.reminder" = { name = "ktp_pengingat", language = "en_US" }\n'
        'kk.notify.papers_checked = { name = "kk_berkas_lengkap", language = "id" }\n'
        'broadcast = { name = "pengumuman", language = "id" }\n')
    templates = load_settings(config, environ={}).gateway.whatsapp.templates
    assert templates == {
        "notify.pickup_scheduled": {"name": "ktp_jadwal_ambil", "language": "id"},
        "notify.reminder": {"name": "ktp_pengingat", "language": "en_US"},
        "kk.notify.papers_checked": {"name": "kk_berkas_lengkap", "language": "id"},
        "broadcast": {"name": "pengumuman", "language": "id"}}
