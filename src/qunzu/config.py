"""Typed settings, read from the environment with the prefix ``QUNZU_``.

Nothing reads settings at import time: ``Settings()`` is built by the CLI or
by tests and handed to ``bootstrap.build``. Outside development the settings
refuse well-known placeholder secrets.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qunzu.domain.throttle import Backoff, Throttles

SqliteMode = Literal["on-loop", "thread"]
WsProtocol = Literal["websockets-sansio", "websockets", "wsproto"]

# The SQLite driver each mode runs; a URL may name it (or name none: ``sqlite:///``).
SQLITE_DRIVER_OF_MODE = {"on-loop": "pysqlite", "thread": "aiosqlite"}

_PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "development"}
DEV_SMS_SENDER = "qunzu.sms:LogSmsSender"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUNZU_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("qunzu-data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to SQLite (sqlite:///) in data_dir.",
    )
    # How SQLite statements run: "on-loop" (the sync sqlite3 driver on the event loop,
    # the fast path: storage/inloop.py) or "thread" (aiosqlite: each statement on a
    # worker thread). PostgreSQL ignores it.
    sqlite_mode: SqliteMode = "on-loop"
    # How long a write may wait, without blocking the event loop, for SQLite's write lock
    # held by another process (a CLI job); past it the request gets 503 database_busy.
    sqlite_busy_wait_seconds: float = Field(default=10.0, gt=0, le=300)
    bus_url: str = "memory://"
    # Prefix of every bus topic: deployments sharing a Redis or NATS server need their own.
    bus_namespace: str = Field(default="qunzu", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    host: str = "127.0.0.1"
    port: int = 8000

    identity_key: str | None = Field(
        default=None,
        description="Base64 key material for identity encryption; "
        "when unset, a key file is created in data_dir with mode 0600.",
    )
    identity_key_file: Path | None = None
    # Rotated identity field keys (base64, 32 bytes each), oldest first; the last encrypts
    # and indexes new identities, every one still decrypts (docs/identity.md, rotation).
    identity_field_keys: list[str] = Field(default_factory=list)
    identity_verifier: str = Field(
        default="qunzu.verification:FormatCheckVerifier",
        description="'module:Class' of the IdentityVerifier to use.",
    )
    max_accounts_per_identity: int = Field(default=3, ge=1, le=100)
    rulebook_files: list[Path] = Field(
        default_factory=list,
        description="Rulebook TOML files (JSON list); empty means the packaged cn-2017.toml.",
    )

    token_ttl_hours: int = Field(default=24 * 30, ge=1)
    # Passkeys (WebAuthn): the relying party is the site's domain; the origin is the URL
    # browsers load the web app from. Both must match what the browser sees.
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "qunzu"
    webauthn_origin: str = "http://localhost:8000"
    # The second step of a log-in: how long its challenge lives, and how wrong codes back off.
    second_factor_challenge_seconds: int = Field(default=300, ge=30, le=3600)
    second_factor_free_failures: int = Field(default=5, ge=1, le=100)
    second_factor_backoff_seconds: int = Field(default=30, ge=1, le=3600)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    history_page_max: int = Field(default=200, ge=1, le=1000)
    invitation_ttl_days: int = Field(default=7, ge=1)
    ws_queue_size: int = Field(default=1000, ge=10)
    ws_catchup_page: int = Field(default=500, ge=10)
    # Live events written straight to each socket (api/ws_fastpath.py). Off: every frame
    # goes through the ASGI send, compressed where the client negotiated deflate.
    ws_direct_writes: bool = True
    # uvicorn's WebSocket implementation for ``qunzu serve``. Direct writes need
    # websockets-sansio; with any other every frame takes the ASGI path.
    ws_protocol: WsProtocol = "websockets-sansio"
    # permessage-deflate for clients that ask: "on" without context takeover (no
    # compression state kept per connection), "off" not offered (api/ws_protocol.py).
    ws_deflate: Literal["on", "off"] = "on"

    # argon2id costs; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    # At most this many argon2 hashes at once (each on a worker thread, each taking
    # argon2_memory_kib), and at most password_hash_queue waiting; past that 503 hashing_busy.
    # The default, half the CPUs (at least one), leaves the event loop a core of its own.
    password_hash_slots: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1, le=64
    )
    password_hash_queue: int = Field(default=16, ge=0, le=10_000)

    # Throttles (services/throttle.py): free attempts per window, then a backoff doubling
    # from login_backoff_seconds to the window. Per address needs the client's real address
    # (behind a proxy: uvicorn's --forwarded-allow-ips).
    throttle_login_account: int = Field(default=5, ge=1)
    throttle_login_address: int = Field(default=30, ge=1)
    throttle_login_window_minutes: float = Field(default=15, gt=0)
    throttle_login_backoff_seconds: float = Field(default=2, gt=0)
    throttle_signup_address_per_hour: int = Field(default=10, ge=1)
    throttle_reset_address_per_hour: int = Field(default=10, ge=1)
    throttle_reset_number_per_hour: int = Field(default=3, ge=1)

    # Password reset codes: sent by this SMS sender ('module:Class'); the bundled one
    # only writes the code to the server log, for development.
    sms_sender: str = Field(default=DEV_SMS_SENDER, description="'module:Class' of the SmsSender.")
    reset_code_minutes: int = Field(default=10, ge=1, le=60)

    run_migrations: bool = True
    log_level: str = "info"
    # "json": one JSON object a line (structlog); "console": the same, for people.
    log_format: Literal["json", "console"] = "json"
    access_log: bool = False

    # The periodic jobs, run by the server itself (services/jobs.py). Intervals in hours;
    # 0 turns one job off. The scheduler looks for due jobs every ``jobs_check_seconds``.
    jobs: bool = True
    job_credit_recompute_hours: float = Field(default=24.0, ge=0)
    job_unattended_sweep_hours: float = Field(default=24.0, ge=0)
    job_identity_rekey_hours: float = Field(default=24.0, ge=0)
    job_retention_purge_hours: float = Field(default=24.0, ge=0)
    jobs_check_seconds: float = Field(default=60.0, gt=0)

    # Attachments (docs/attachments.md). Where content goes: "file:" (data_dir/blobs, the
    # default), "file:///path", or "s3://bucket/prefix" with the s3_* settings below.
    blob_url: str = "file:"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    # HMAC key of the signed attachment links; unset: derived from the identity key.
    url_signing_key: str | None = None
    job_uploads_collect_hours: float = Field(default=24.0, ge=0)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        key = (self.identity_key or "").strip().lower()
        if self.environment == "production" and key in _PLACEHOLDER_SECRETS:
            raise ValueError("QUNZU_IDENTITY_KEY is a placeholder; set a real key in production.")
        if self.environment == "production" and self.sms_sender == DEV_SMS_SENDER:
            raise ValueError(
                "QUNZU_SMS_SENDER is the development sender, which writes reset codes to the "
                "log; set a real SMS sender in production."
            )
        return self

    @property
    def throttles(self) -> Throttles:
        window = timedelta(minutes=self.throttle_login_window_minutes)
        base = timedelta(seconds=self.throttle_login_backoff_seconds)
        hour = timedelta(hours=1)
        return Throttles(
            login_account=Backoff(self.throttle_login_account, window, base, window),
            login_address=Backoff(self.throttle_login_address, window, base, window),
            signup_address=Backoff(self.throttle_signup_address_per_hour, hour, hour, hour),
            reset_address=Backoff(self.throttle_reset_address_per_hour, hour, hour, hour),
            reset_number=Backoff(self.throttle_reset_number_per_hour, hour, hour, hour),
        )

    @model_validator(mode="after")
    def _sqlite_url_matches_mode(self) -> Settings:
        # The mode chooses the driver: a URL naming the other one would say one thing
        # while another runs.
        scheme = (self.database_url or "").partition("://")[0].lower()
        backend, _, driver = scheme.partition("+")
        if backend == "sqlite" and driver and driver != SQLITE_DRIVER_OF_MODE[self.sqlite_mode]:
            raise ValueError(
                f"QUNZU_DATABASE_URL names the {driver} driver but QUNZU_SQLITE_MODE is "
                f"{self.sqlite_mode} (driver {SQLITE_DRIVER_OF_MODE[self.sqlite_mode]}); "
                "write the URL as sqlite:///path and choose with QUNZU_SQLITE_MODE."
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'qunzu.db'}"

    @property
    def resolved_identity_key_file(self) -> Path:
        return self.identity_key_file or self.data_dir / "identity.key"
