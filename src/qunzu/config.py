"""Typed settings, read from the environment with the prefix ``QUNZU_``.

Nothing reads settings at import time: ``Settings()`` is built by the CLI or
by tests and handed to ``bootstrap.build``. Outside development the settings
refuse well-known placeholder secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "development"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUNZU_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("qunzu-data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to SQLite in data_dir.",
    )
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
    max_message_chars: int = Field(default=4000, ge=1, le=100_000)
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    history_page_max: int = Field(default=200, ge=1, le=1000)
    invitation_ttl_days: int = Field(default=7, ge=1)
    ws_queue_size: int = Field(default=1000, ge=10)
    ws_catchup_page: int = Field(default=500, ge=10)
    # Live events written straight to each socket (api/ws_fastpath.py). Off: every frame
    # goes through the ASGI send, compressed where the client negotiated deflate.
    ws_direct_writes: bool = True

    # argon2id costs; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    run_migrations: bool = True
    log_level: str = "info"
    access_log: bool = False

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        key = (self.identity_key or "").strip().lower()
        if self.environment == "production" and key in _PLACEHOLDER_SECRETS:
            raise ValueError("QUNZU_IDENTITY_KEY is a placeholder; set a real key in production.")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'qunzu.db'}"

    @property
    def resolved_identity_key_file(self) -> Path:
        return self.identity_key_file or self.data_dir / "identity.key"
