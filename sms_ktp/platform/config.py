"""Configuration: one TOML file (every key documented in config.example.toml), secrets also from
the environment. With no file at all, an embedded default runs in the current directory."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import secrets
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sms_ktp.domain.region import Region

CONFIG_ENV = "SMS_KTP_CONFIG"
# Secrets that may come from the environment instead of the file: variable -> (section, key).
SECRET_ENV = {
    "SMS_KTP_DATABASE_URL": ("database", "url"),
    "SMS_KTP_WEBHOOK_TOKEN": ("gateway", "webhook_token"),
    "SMS_KTP_AT_API_KEY": ("gateway.africastalking", "api_key"),
    "SMS_KTP_HTTP_API_KEY": ("gateway.http", "api_key"),
    "SMS_KTP_WHATSAPP_ACCESS_TOKEN": ("gateway.whatsapp", "access_token"),
    "SMS_KTP_WHATSAPP_APP_SECRET": ("gateway.whatsapp", "app_secret"),
    "SMS_KTP_WHATSAPP_VERIFY_TOKEN": ("gateway.whatsapp", "verify_token"),
    "SMS_KTP_GAMMU_DATABASE_URL": ("gateway.gammu", "database_url"),
    "SMS_KTP_INTEGRATION_TOKEN": ("integration", "token"),
    "SMS_KTP_SECRET_KEY": ("staff", "secret_key"),
    "SMS_KTP_METRICS_TOKEN": ("health", "metrics_token"),
    "SMS_KTP_DATA_KEY": ("privacy", "data_key"),
    "SMS_KTP_PREVIOUS_DATA_KEYS": ("privacy", "previous_data_keys"),  # comma-separated
    "SMS_KTP_LOOKUP_KEY": ("privacy", "lookup_key"),
}


class ConfigError(ValueError):
    pass


@dataclass
class DatabaseSettings:
    url: str = "sqlite:///var/sms-ktp.db"


# The gateways `[gateway] provider` and `fallback` may name.
PROVIDERS = ("console", "africastalking", "gammu", "http")


@dataclass
class ConsoleSettings:
    outbox_file: str = "var/outbox.jsonl"
    rate_per_second: float = 0.0


@dataclass
class AfricasTalkingSettings:
    username: str = "sandbox"
    api_key: str = ""
    sender_id: str = ""
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 9.05
    rate_per_second: float = 0.0


# The Graph API of the WhatsApp Business Cloud API, at the version the adapter is written for.
GRAPH_API_URL = "https://graph.facebook.com/v23.0"


@dataclass
class WhatsAppSettings:
    """The WhatsApp channel (WhatsApp Business Cloud API): on when `phone_number_id` is set."""

    phone_number_id: str = ""
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    api_url: str = GRAPH_API_URL
    rate_per_second: float = 20.0
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 9.05
    # The approved templates: a notice's catalogue key ("notify.pickup_scheduled"), or a general
    # one ("notification", "broadcast") -> {name = "...", language = "id"}. Dotted keys in the
    # TOML file (nested tables) are read flat.
    templates: dict[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.phone_number_id)


@dataclass
class WhatsAppCostSettings:
    # Rupiah a WhatsApp message costs the city (a utility template outside the 24-hour window;
    # replies inside it are free), counted on the dashboard next to the SMS segments.
    cost_per_message: int = 320


@dataclass
class GatewaySettings:
    provider: str = "console"
    webhook_token: str = ""
    price_per_segment: int = 350
    # Addresses (CIDRs) the webhooks accept calls from; empty: anyone holding the token.
    allowed_ips: list[str] = field(default_factory=list)
    # Routing (gateway.routing): the gateway SMS go to when the primary keeps failing.
    fallback: str = ""
    failover_after: int = 3
    retry_primary_seconds: float = 300.0
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    africastalking: AfricasTalkingSettings = field(default_factory=AfricasTalkingSettings)
    # Read by the adapters themselves (gateway/gammu.py, gateway/http_aggregator.py).
    gammu: dict[str, Any] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)


@dataclass
class WorkerSettings:
    embedded: bool = True
    dispatch_interval_seconds: float = 1.0
    batch_size: int = 100
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    lease_seconds: float = 120.0


@dataclass
class DialogueSettings:
    ttl_minutes: int = 30


@dataclass
class NotificationSettings:
    quiet_hours: str = "20:00-07:00"
    reminder_time: str = "16:00"


@dataclass
class PrintingSettings:
    sites: list[str] = field(default_factory=lambda: ["disdukcapil"])


@dataclass
class RegionSettings:
    code: str = "3271"  # Kota Bogor
    languages: list[str] = field(default_factory=list)  # empty: those of the province


def _every_document() -> list[str]:
    from sms_ktp.domain.documents import DOCUMENTS

    return list(DOCUMENTS)


@dataclass
class ServicesSettings:
    # The documents the regency takes applications for (`sms_ktp.domain.documents`).
    enabled: list[str] = field(default_factory=_every_document)


@dataclass
class DocumentsSettings:
    link_days: int = 14  # how long a signed PDF's link and PIN work
    max_upload_mb: int = 10  # the largest PDF staff may attach
    pin_attempts: int = 5  # wrong PINs before the link locks until staff renew it


@dataclass
class PickupSettings:
    max_reschedules: int = 2
    max_resident_changes: int = 1
    search_days: int = 60
    offices: list[dict[str, Any]] = field(default_factory=list)


# The courier's name lands in the resident's SMS (the KIRIM answer, the tracking SMS, STATUS):
# the catalogues leave it this many GSM-7 septets ("Pos Indonesia" takes 13, "Kantor Pos
# Indonesia" 20); tests/flows/test_catalogue.py checks every message with a name this long.
COURIER_LIMIT = 20
# A fee beyond this is a typing mistake (Kabupaten Mojokerto charged Rp 20,000); the
# catalogues leave room for six digits.
FEE_LIMIT = 999_999
# `[server] public_url` starts the link of a signed PDF in the resident's SMS
# (`<public_url>/d/<code>`): the catalogues leave it this many characters ("https://" and a
# short host: "https://ktp.kotabogor.go.id" takes 27); tests/flows/test_catalogue.py checks the
# SMS with a URL this long.
PUBLIC_URL_LIMIT = 30


@dataclass
class DeliverySettings:
    """Printed cards posted to the address on the KK instead of collected at the office, when
    the family asks (KIRIM), as some Disdukcapil offices do (Kabupaten Magelang: Pos
    Indonesia, cash on delivery)."""

    post: bool = False
    courier: str = "Pos Indonesia"
    fee: int = 9000  # Rupiah, paid to the courier on delivery; 0: free


@dataclass
class IntegrationSettings:
    token: str = ""


@dataclass
class StaffSettings:
    secret_key: str = ""
    idle_minutes: int = 30
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    # Sign-in limits against password guessing (`sms_ktp.backoffice.staff.sign_in`); 0 switches
    # one off.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    login_max_failures_per_address: int = 20
    # "auto": the session cookie is Secure when the request came over HTTPS; or true / false.
    secure_cookies: str | bool = field(default="auto", metadata={"types": (str, bool)})


@dataclass
class BroadcastSettings:
    rate_per_second: float = 5.0


@dataclass
class LimitsSettings:
    """What one phone may cost the city (`sms_ktp.messaging.limits`,
    `sms_ktp.messaging.floods`); 0 switches a limit off."""

    max_sms_per_phone_per_hour: int = 20
    max_identical_replies: int = 3
    flood_inbound_per_hour: int = 30
    flood_inbound_per_day: int = 100


@dataclass
class HealthSettings:
    """Thresholds past which `/healthz` answers 503, and who may read `/metrics`."""

    max_heartbeat_age_seconds: float = 60.0
    max_oldest_queued_seconds: float = 300.0
    metrics_token: str = ""


@dataclass
class PrivacySettings:
    """Personal data: how long it is kept (and, from other keys, how it is protected). Shared
    by the privacy features; each key says what it is for."""

    # Days after an application was collected, cancelled or rejected before the daily purge
    # erases its personal data (`sms_ktp.privacy.retention`); 0 keeps everything.
    retention_days: int = 90
    # Encryption at rest (`sms_ktp.crypto`), each key 32 random bytes in base64. `data_key`
    # seals NIK, KK and dialogue answers; `previous_data_keys` still open what older keys sealed
    # (during a rotation); `lookup_key` makes the keyed hashes of exact lookups. Empty: generated
    # once into the data folder (a demo).
    data_key: str = ""
    previous_data_keys: list[str] = field(default_factory=list)
    lookup_key: str = ""


@dataclass
class KelurahanSettings:
    # The mobile phone of a kelurahan office, by its 10-digit kelurahan code: the notices of
    # the families registered there without a phone of their own are copied to it (they are
    # always on the kelurahan's list in the back office).
    phones: dict[str, str] = field(default_factory=dict)


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Reverse proxies (CIDRs) whose X-Forwarded-For names the client; nobody else's is read.
    trusted_proxies: list[str] = field(default_factory=list)
    # The address residents reach the service at, as written in their SMS (the PDF links,
    # `<public_url>/d/<code>`): short, https in production. Empty: http://<host>:<port>.
    public_url: str = ""


@dataclass
class LoggingSettings:
    level: str = "INFO"


@dataclass
class Settings:
    data_dir: str = "var"
    region: RegionSettings = field(default_factory=RegionSettings)
    services: ServicesSettings = field(default_factory=ServicesSettings)
    documents: DocumentsSettings = field(default_factory=DocumentsSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    printing: PrintingSettings = field(default_factory=PrintingSettings)
    pickup: PickupSettings = field(default_factory=PickupSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    integration: IntegrationSettings = field(default_factory=IntegrationSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    broadcasts: BroadcastSettings = field(default_factory=BroadcastSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    kelurahan: KelurahanSettings = field(default_factory=KelurahanSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    whatsapp: WhatsAppCostSettings = field(default_factory=WhatsAppCostSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    source: str = "embedded default"


def _apply(target: Any, values: dict[str, Any], where: str) -> None:
    known = {f.name: f for f in dataclasses.fields(target)}
    for name, value in values.items():
        if name not in known or name == "source":
            raise ConfigError(f"unknown key [{where}] {name}")
        current = getattr(target, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"[{where or 'top'}] {name} must be a table")
            _apply(current, value, f"{where}.{name}" if where else name)
            continue
        expected = type(current)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        # A key that takes more than one type (e.g. "auto" or a boolean) lists them.
        types = known[name].metadata.get("types", (expected,))
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            raise ConfigError(f"[{where or 'top'}] {name} must be "
                              f"{' or '.join(kind.__name__ for kind in types)}")
        setattr(target, name, value)


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    settings = Settings()
    path = path or environ.get(CONFIG_ENV)
    if path:
        try:
            values = tomllib.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: {error}") from None
        _apply(settings, values, "")
        settings.source = str(path)
    for variable, (section, key) in SECRET_ENV.items():
        if environ.get(variable):
            target: Any = settings
            for part in section.split("."):
                target = getattr(target, part)
            value: Any = environ[variable]
            if isinstance(target, dict):  # an adapter's own table
                target[key] = value
                continue
            if isinstance(getattr(target, key), list):
                value = [item.strip() for item in value.split(",") if item.strip()]
            setattr(target, key, value)
    _check_gateways(settings.gateway)
    _check(settings)
    _check_abuse_limits(settings)
    return settings


def _check_gateways(gateway: GatewaySettings) -> None:
    """The gateways named exist and the tables of those in use are complete: a typo must stop
    the service at start, not at the first SMS."""
    _check_whatsapp(gateway.whatsapp)
    if gateway.provider not in PROVIDERS:
        raise ConfigError(f"unknown [gateway] provider {gateway.provider!r} "
                          f"(one of {', '.join(PROVIDERS)})")
    if gateway.fallback and gateway.fallback not in PROVIDERS:
        raise ConfigError(f"unknown [gateway] fallback {gateway.fallback!r} "
                          f"(one of {', '.join(PROVIDERS)}, or empty)")
    if gateway.fallback == gateway.provider:
        raise ConfigError("[gateway] fallback must differ from provider")
    if gateway.failover_after < 1 or gateway.retry_primary_seconds <= 0:
        raise ConfigError("[gateway] failover_after must be at least 1 and "
                          "retry_primary_seconds positive")
    for name in filter(None, (gateway.provider, gateway.fallback)):
        try:
            rate = gateway_rate(gateway, name)
            adapter_settings(gateway, name)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"[gateway.{name}] {error}") from None
        if rate < 0:
            raise ConfigError(f"[gateway.{name}] rate_per_second must not be negative (0: none)")


def gateway_rate(gateway: GatewaySettings, name: str) -> float:
    """Messages per second the gateway `name` may take (0: no limit)."""
    table = getattr(gateway, name)
    rate = table.get("rate_per_second", 0) if isinstance(table, dict) else table.rate_per_second
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError("rate_per_second must be a number")
    return float(rate)


def adapter_settings(gateway: GatewaySettings, name: str) -> Any:
    """The settings object of the adapters that read their own table; None for the others."""
    if name == "gammu":
        from gateway.gammu import GammuSettings

        return GammuSettings.from_mapping(gateway.gammu)
    if name == "http":
        from gateway.http_aggregator import HttpGatewaySettings

        return HttpGatewaySettings.from_mapping(gateway.http)
    return None


def served_region(settings: Settings) -> Region:
    """The regency of `[region]`, its languages checked against the catalogues."""
    from flows.catalogue import languages
    from sms_ktp.domain.region import UnknownRegion, region

    try:
        served = region(settings.region.code, settings.region.languages)
    except UnknownRegion as error:
        raise ConfigError(f"[region] code: {error}") from None
    unknown = [code for code in served.languages if code not in languages()]
    if unknown or (settings.region.languages and "id" not in served.languages):
        raise ConfigError(f"[region] languages: {settings.region.languages!r}: each one of "
                          f"{', '.join(languages())}, with id (Bahasa Indonesia) among them")
    return served


def _check(settings: Settings) -> None:
    """Values whose type is right but whose content is not."""
    from sms_ktp.domain.quiet_hours import QuietHours, parse_local_time

    try:
        QuietHours.parse(settings.notifications.quiet_hours)
        parse_local_time(settings.notifications.reminder_time)
    except ValueError as error:
        raise ConfigError(f"[notifications] {error}") from None
    from sms_ktp.domain.pickup_calendar import offices_from_config

    served = served_region(settings)
    try:
        offices_from_config(settings.pickup.offices, served)
    except ValueError as error:
        raise ConfigError(f"[pickup] {error}") from None
    _check_delivery(settings.delivery)
    _check_documents(settings)
    if settings.staff.idle_minutes <= 0:
        raise ConfigError("[staff] idle_minutes must be positive")
    if settings.staff.password_time_cost < 1 or settings.staff.password_memory_kib < 32:
        raise ConfigError("[staff] password_time_cost must be at least 1 and "
                          "password_memory_kib at least 32")
    staff = settings.staff
    if min(staff.login_max_failures, staff.login_max_failures_per_address) < 0:
        raise ConfigError("[staff] login_max_failures and login_max_failures_per_address must "
                          "not be negative (0: no limit)")
    if staff.login_window_minutes <= 0 or staff.login_lockout_minutes <= 0:
        raise ConfigError("[staff] login_window_minutes and login_lockout_minutes must be "
                          "positive")
    if staff.secure_cookies not in ("auto", True, False):
        raise ConfigError('[staff] secure_cookies must be "auto", true or false')
    if settings.broadcasts.rate_per_second <= 0:
        raise ConfigError("[broadcasts] rate_per_second must be positive")
    if (settings.health.max_heartbeat_age_seconds <= 0
            or settings.health.max_oldest_queued_seconds <= 0):
        raise ConfigError("[health] max_heartbeat_age_seconds and max_oldest_queued_seconds "
                          "must be positive")
    if settings.privacy.retention_days < 0:
        raise ConfigError("[privacy] retention_days must not be negative (0: keep everything)")
    _check_privacy_keys(settings.privacy)
    _check_kelurahan_phones(settings.kelurahan)
    if settings.gateway.price_per_segment < 0:
        raise ConfigError("[gateway] price_per_segment must not be negative")
    sites = settings.printing.sites
    if not sites or not all(isinstance(site, str) and site.strip() for site in sites):
        raise ConfigError("[printing] sites must be a non-empty list of names")


def _check_documents(settings: Settings) -> None:
    from sms_ktp.domain.documents import DOCUMENTS

    enabled = settings.services.enabled
    unknown = [code for code in enabled if code not in DOCUMENTS]
    if unknown or not enabled:
        raise ConfigError(f"[services] enabled: {enabled!r}: a non-empty list of "
                          f"{', '.join(DOCUMENTS)}")
    documents = settings.documents
    if min(documents.link_days, documents.max_upload_mb, documents.pin_attempts) < 1:
        raise ConfigError("[documents] link_days, max_upload_mb and pin_attempts must be "
                          "at least 1")
    url = public_url(settings)
    if (not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?", url)
            or len(url) > PUBLIC_URL_LIMIT):
        raise ConfigError(f"[server] public_url {url[:60]!r}: an http:// or https:// address of "
                          f"at most {PUBLIC_URL_LIMIT} characters (it is written into the "
                          "residents' SMS)")


def public_url(settings: Settings) -> str:
    """The address residents reach the service at, without a trailing slash: `[server]
    public_url`, else the address `sms-ktp serve` listens on."""
    server = settings.server
    return (server.public_url.strip() or f"http://{server.host}:{server.port}").rstrip("/")


def _check_delivery(delivery: DeliverySettings) -> None:
    """The courier and the fee are written into residents' SMS: each must fit the room the
    catalogues leave for it, in GSM-7."""
    from gsm7.encoding import septets, to_gsm7

    courier = delivery.courier.strip()
    if not courier or (septets(to_gsm7(courier)) or COURIER_LIMIT + 1) > COURIER_LIMIT:
        raise ConfigError(f"[delivery] courier must be a name of 1 to {COURIER_LIMIT} GSM-7 "
                          "characters (it is written into the residents' SMS)")
    if not 0 <= delivery.fee <= FEE_LIMIT:
        raise ConfigError(f"[delivery] fee must be 0 (free) to {FEE_LIMIT} rupiah")


def _check_kelurahan_phones(kelurahan: KelurahanSettings) -> None:
    """Each key a kelurahan code, each value a mobile number: an SMS cannot reach a landline,
    and a typo would leave the families of that kelurahan untold."""
    from sms_ktp.domain.contact_address import is_kelurahan_code
    from sms_ktp.domain.phones import normalise_msisdn

    for code, phone in kelurahan.phones.items():
        if not is_kelurahan_code(code):
            raise ConfigError(f"[kelurahan] phones: {code[:20]!r} is not a kelurahan code "
                              "(10 digits, e.g. \"3271011001\")")
        if not isinstance(phone, str) or normalise_msisdn(phone) is None:
            raise ConfigError(f"[kelurahan] phones: the phone of {code} must be a mobile "
                              "number (e.g. \"0812 3456 7890\"): an SMS cannot reach a landline")


def kelurahan_phones(settings: Settings) -> dict[str, str]:
    """The configured kelurahan phones, in E.164 (checked at load: every one is a mobile)."""
    from sms_ktp.domain.phones import normalise_msisdn

    return {code: normalise_msisdn(phone) or phone
            for code, phone in settings.kelurahan.phones.items()}


def _check_privacy_keys(privacy: PrivacySettings) -> None:
    """Keys that are given must be keys: a typo must stop the service, not seal under a key
    nobody can give again. Messages name the key, never its value."""
    from sms_ktp.crypto import PrivacyKeyError, parse_key

    keys = [("data_key", privacy.data_key), ("lookup_key", privacy.lookup_key),
            *(("previous_data_keys", key) for key in privacy.previous_data_keys)]
    try:
        for name, key in keys:
            if not isinstance(key, str):
                raise PrivacyKeyError(f"[privacy] {name} must be a list of strings")
            if key:
                parse_key(key, f"[privacy] {name}")
    except PrivacyKeyError as error:
        raise ConfigError(str(error)) from None
    if privacy.data_key and privacy.data_key == privacy.lookup_key:
        raise ConfigError("[privacy] lookup_key must differ from data_key")


def _check_abuse_limits(settings: Settings) -> None:
    """The address lists must be CIDRs, the limits counts: a typo must stop the service rather
    than leave the webhooks open or every reply suppressed."""
    for where, key, networks in (("gateway", "allowed_ips", settings.gateway.allowed_ips),
                                 ("server", "trusted_proxies", settings.server.trusted_proxies)):
        for network in networks:
            try:
                if not isinstance(network, str):
                    raise TypeError(network)
                ipaddress.ip_network(network, strict=False)
            except (TypeError, ValueError):
                raise ConfigError(f"[{where}] {key}: {str(network)[:60]!r} is not an address "
                                  "or CIDR (e.g. \"203.0.113.0/24\")") from None
    limits = settings.limits
    for key in ("max_sms_per_phone_per_hour", "max_identical_replies", "flood_inbound_per_hour",
                "flood_inbound_per_day"):
        if getattr(limits, key) < 0:
            raise ConfigError(f"[limits] {key} must not be negative (0: no limit)")


def ensure_webhook_token(settings: Settings) -> str:
    """The configured token, or one generated once and kept under the data folder."""
    if not settings.gateway.webhook_token:
        settings.gateway.webhook_token = _kept_secret(settings, "webhook_token")
    return settings.gateway.webhook_token


def ensure_secret_key(settings: Settings) -> str:
    """The key that signs staff sessions: configured, or generated once and kept under the data
    folder (so that a restart does not sign everybody out)."""
    if not settings.staff.secret_key:
        settings.staff.secret_key = _kept_secret(settings, "secret_key")
    return settings.staff.secret_key


_KEYS = frozenset({"secret_key", "data_key", "lookup_key"})


def ensure_privacy_keys(settings: Settings) -> PrivacySettings:
    """The keys of the encryption at rest: configured, or generated once and kept under the data
    folder (a demo: a copy of that folder holds the keys beside the database, so production
    gives them in the configuration or the environment, kept apart from database backups)."""
    privacy = settings.privacy
    if not privacy.data_key:
        privacy.data_key = _kept_secret(settings, "data_key")
    if not privacy.lookup_key:
        privacy.lookup_key = _kept_secret(settings, "lookup_key")
    return privacy


def _kept_secret(settings: Settings, name: str) -> str:
    """Processes starting together (gunicorn's workers) must agree: the secret is written whole
    into a private temporary file and linked into place, which fails when another process was
    first; everyone then reads the one that won, never a half-written file."""
    secret_file = Path(settings.data_dir) / name
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        # Keys take 32 random bytes (`token_urlsafe(32)` is also what `crypto.parse_key` reads).
        secret = secrets.token_urlsafe(32 if name in _KEYS else 24)
        handle, temporary = tempfile.mkstemp(dir=secret_file.parent, prefix=f".{name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as written:  # mode 0600
                written.write(secret + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, secret_file)
        finally:
            os.unlink(temporary)
    return secret_file.read_text("utf-8").strip()


def _flat_templates(templates: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`notify.pickup_scheduled = {...}` written unquoted in TOML is a nested table: each
    template is found where it has a name, under its whole dotted key."""
    flat: dict[str, Any] = {}
    for key, value in templates.items():
        if isinstance(value, dict) and "name" not in value and "language" not in value \
                and value and all(isinstance(inner, dict) for inner in value.values()):
            flat.update(_flat_templates(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# The general templates: their one variable is the whole text (`messaging.whatsapp_templates`).
GENERAL_TEMPLATES = ("notification", "broadcast")


def _check_template(notice: str, template: Any) -> None:
    """A template has a name and a language; a notice's own is named by its catalogue key and
    written in a language the catalogue has, or its values could not be read back."""
    from flows.catalogue import languages, messages, written_in  # read only when configured

    where = f"[gateway.whatsapp.templates] {notice}"
    if not isinstance(template, dict) or not template.get("name") \
            or not template.get("language"):
        raise ConfigError(f"{where} needs a name and a language, e.g. "
                          '{ name = "ktp_siap_ambil", language = "id" }')
    if notice in GENERAL_TEMPLATES:
        return
    if notice not in messages("id"):
        raise ConfigError(f"{where}: no such notice; `sms-ktp whatsapp templates` lists them "
                          f"(or a general one: {', '.join(GENERAL_TEMPLATES)})")
    if written_in(str(template["language"])) is None:
        raise ConfigError(f"{where}: language {template['language']!r} has no catalogue "
                          f"({', '.join(languages())}): its values could not be read")


def _check_whatsapp(whatsapp: WhatsAppSettings) -> None:
    """The WhatsApp channel, when on, has its secrets: without the app secret no webhook could
    be trusted, without the token nothing could be sent."""
    if not whatsapp.enabled:
        return
    missing = [key for key in ("access_token", "app_secret", "verify_token")
               if not getattr(whatsapp, key)]
    if missing:
        raise ConfigError(f"[gateway.whatsapp] phone_number_id is set but {', '.join(missing)} "
                          "is empty (or set SMS_KTP_WHATSAPP_" + missing[0].upper() + ")")
    if not whatsapp.api_url.startswith(("https://", "http://127.", "http://localhost")):
        raise ConfigError("[gateway.whatsapp] api_url must be https (or a loopback address)")
    whatsapp.templates = _flat_templates(whatsapp.templates)
    for notice, template in whatsapp.templates.items():
        _check_template(notice, template)
    if whatsapp.rate_per_second < 0:
        raise ConfigError("[gateway.whatsapp] rate_per_second must not be negative")
