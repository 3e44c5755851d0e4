"""The review app's configuration, read from ``SAFEMED_APP_*`` environment variables.

SafeMed-R1's physician review ran for two months with 160 clinicians; the tool they use must be
configurable without code changes (ASVS V14: configuration by environment) and must never ship a
secret in the repository. The secret key (it derives the review-token key, see ``tokens.py``)
comes from ``SAFEMED_APP_SECRET``, else from a file (``SAFEMED_APP_SECRET_FILE``, default beside a
SQLite database or in ``$XDG_CONFIG_HOME/safemed/``) that is generated with mode 0600 on first
run. Several worker processes starting at once agree on one secret: the file is written under a
temporary name and linked into place, so exactly one writer wins and every reader sees a whole file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from safemed.errors import ConfigError
from safemed.ledger import db

PREFIX = "SAFEMED_APP_"
SECRET_ENV = "SAFEMED_APP_SECRET"
SECRET_FILE_ENV = "SAFEMED_APP_SECRET_FILE"
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class AppSettings:
    """Everything the app reads at start-up (one value per ``SAFEMED_APP_<NAME>`` variable)."""

    db_url: str
    key_path: Path | None
    """The ledger key file (signs a checkpoint per submission, pseudonymises reviewers); None = default."""
    secret_key: str
    session_minutes: int = 480
    """Absolute session lifetime (ASVS 3.3: re-authentication after a working day)."""
    idle_minutes: int = 60
    """A session unused this long ends (ASVS 3.3.2 idle timeout)."""
    lease_minutes: int = 30
    """How long an opened item stays reserved for its reviewer."""
    per_item: int = 2
    """Independent reviewers per item (curation's ``assign --per-item``)."""
    claim: bool = True
    """Whether reviewers may claim unassigned items of their specialty from the queue."""
    gold_every: int = 10
    """One hidden gold unit per this many queue items (0 = none)."""
    max_failures: int = 5
    """Failed sign-ins in a row before the account is locked."""
    lockout_minutes: int = 15
    login_rate_per_minute: int = 10
    """Sign-in attempts per minute allowed from one address and, separately, for one account name."""
    cookie_secure: bool | None = None
    """Secure cookie flag: True/False forced, None = when the request came over HTTPS."""
    default_language: str = "en"

    @property
    def key_dir(self) -> Path | None:
        """The folder of the ledger key file (the contract's name for it)."""
        return None if self.key_path is None else self.key_path.parent

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AppSettings:
        """Settings from the environment (``env`` for tests); generates the secret file if needed."""
        source = dict(os.environ if env is None else env)
        db_url = source.get(PREFIX + "DB") or source.get(db.DB_ENV) or db.DEFAULT_DB
        key = source.get(PREFIX + "KEY")
        secret = source.get(SECRET_ENV) or load_or_create_secret(secret_path(db_url, source))

        def number(name: str, default: int) -> int:
            raw = source.get(PREFIX + name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{PREFIX}{name}={raw!r}: not a whole number") from exc
            if value < 0:
                raise ConfigError(f"{PREFIX}{name}={raw!r}: must not be negative")
            return value

        def flag(name: str) -> bool | None:
            raw = source.get(PREFIX + name, "").strip().lower()
            if raw in ("", "auto"):
                return None
            if raw in ("1", "true", "yes", "on"):
                return True
            if raw in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{PREFIX}{name}={raw!r}: use true, false or auto")

        language = source.get(PREFIX + "LANGUAGE", "en") or "en"
        if language not in LANGUAGES:
            raise ConfigError(f"{PREFIX}LANGUAGE={language!r}: use one of {', '.join(LANGUAGES)}")
        claim = flag("CLAIM")
        return cls(
            db_url=db_url, key_path=Path(key) if key else None, secret_key=secret,
            session_minutes=number("SESSION_MINUTES", 480), idle_minutes=number("IDLE_MINUTES", 60),
            lease_minutes=number("LEASE_MINUTES", 30), per_item=max(1, number("PER_ITEM", 2)),
            claim=True if claim is None else claim, gold_every=number("GOLD_EVERY", 10),
            max_failures=max(1, number("MAX_FAILURES", 5)), lockout_minutes=number("LOCKOUT_MINUTES", 15),
            login_rate_per_minute=max(1, number("LOGIN_RATE_PER_MINUTE", 10)),
            cookie_secure=flag("COOKIE_SECURE"), default_language=language)

    def to_env(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` rebuild these settings (for worker processes)."""
        env = {PREFIX + "DB": self.db_url, SECRET_ENV: self.secret_key,
               PREFIX + "SESSION_MINUTES": str(self.session_minutes), PREFIX + "IDLE_MINUTES": str(self.idle_minutes),
               PREFIX + "LEASE_MINUTES": str(self.lease_minutes), PREFIX + "PER_ITEM": str(self.per_item),
               PREFIX + "CLAIM": "true" if self.claim else "false", PREFIX + "GOLD_EVERY": str(self.gold_every),
               PREFIX + "MAX_FAILURES": str(self.max_failures),
               PREFIX + "LOCKOUT_MINUTES": str(self.lockout_minutes),
               PREFIX + "LOGIN_RATE_PER_MINUTE": str(self.login_rate_per_minute),
               PREFIX + "COOKIE_SECURE": "auto" if self.cookie_secure is None else str(self.cookie_secure).lower(),
               PREFIX + "LANGUAGE": self.default_language}
        if self.key_path is not None:
            env[PREFIX + "KEY"] = str(self.key_path)
        return env


def secret_path(db_url: str, env: dict[str, str] | None = None) -> Path:
    """Where the secret file lives: ``$SAFEMED_APP_SECRET_FILE``, else ``<sqlite db>.app-secret``,
    else ``$XDG_CONFIG_HOME/safemed/app-secret`` (a server database has no folder of its own)."""
    source = os.environ if env is None else env
    named = source.get(SECRET_FILE_ENV)
    if named:
        return Path(named)
    if "://" not in db_url:
        path = Path(db_url).expanduser()
        return path.with_name(path.name + ".app-secret")
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        return path.with_name(path.name + ".app-secret")
    base = source.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "safemed" / "app-secret"


def load_or_create_secret(path: Path) -> str:
    """The secret in ``path``, generated first (256 random bits, mode 0600) when the file is absent.

    The new secret is written to a private temporary file and hard-linked to ``path``: the link
    fails if another process got there first, in which case that process's secret is used.
    """
    if path.exists():
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    try:
        value = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the app secret ({exc})") from exc
    if len(value) < 32:
        raise ConfigError(f"{path}: the app secret is shorter than 32 characters; delete the file to regenerate it")
    return value
