"""Hub settings: defaults, then a YAML file, then CARGOBAY_* environment variables, then flags.

Validated once at start-up; every mistake is reported on its own line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """One or more settings are wrong; `lines` says which, one per mistake."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cargobay-hub"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = "127.0.0.1:5000"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    workers: int = Field(default=2, ge=1, le=64)
    storage: Literal["filesystem"] = "filesystem"
    delete_enabled: bool = True
    chunk_min_length: int = Field(default=1024, ge=1)
    upload_max_age_seconds: int = Field(default=24 * 3600, ge=60)
    tags_page_max: int = Field(default=10000, ge=1)
    catalog_page_max: int = Field(default=10000, ge=1)
    auth: Literal["token", "none"] = "token"
    default_visibility: Literal["public", "private"] = "public"
    open_registration: bool = True
    token_service: str = "cargobay"
    token_issuer: str = "cargobay"
    token_lifetime: int = Field(default=300, ge=60, le=86400)
    public_url: str | None = None
    # Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed when counting failed
    # logins per client address; empty: the address of the TCP peer counts.
    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = False

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _check_trusted_proxies(cls, value: Any) -> Any:
        import ipaddress

        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        if isinstance(items, list):
            for item in items:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or network: {item!r}") from None
        return items

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.db'}"


_FIELDS = tuple(Settings.model_fields)


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        key = f"CARGOBAY_{name.upper()}"
        if key in environ:
            out[name] = environ[key]
    return out


def _from_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"config file {path}: {exc.strerror or exc}"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"config file {path}: not valid YAML: {exc}".splitlines()[0]]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError([f"config file {path}: expected a mapping of settings"])
    return {str(k).replace("-", "_"): v for k, v in doc.items()}


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    file_path = config_file or (Path(environ["CARGOBAY_CONFIG"]) if environ.get("CARGOBAY_CONFIG") else None)
    if file_path is not None:
        values.update(_from_file(file_path))
    values.update(_from_env(environ))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown setting"
            lines.append(f"{where}: {message}")
        raise ConfigError(lines) from None
