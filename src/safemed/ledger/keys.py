"""The ledger's two secrets, kept in a key file outside the database.

* An **Ed25519 signing key** signs checkpoints (tree size + root hash), so that whoever holds
  the public key can check that a root really came from this ledger (CT's signed tree heads).
* A **pseudonym key** for keyed HMAC-SHA-256: reviewers appear in events only as
  ``p-<hmac(key, person id)>``; without the key a pseudonym cannot be tied back to a person or
  guessed from a list of names, and the key-to-person map never enters the ledger.

The file (JSON, mode 0600) is found at ``--key PATH``, else ``$SAFEMED_LEDGER_KEY``, else
``$XDG_CONFIG_HOME/safemed/ledger.key`` (``~/.config/safemed/ledger.key``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from safemed.ledger.errors import KeyFileError

KEY_ENV = "SAFEMED_LEDGER_KEY"
KEY_FILE_VERSION = 1


def default_key_path() -> Path:
    """``$SAFEMED_LEDGER_KEY``, else ``$XDG_CONFIG_HOME/safemed/ledger.key``."""
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "safemed" / "ledger.key"


def key_id(public_key: bytes) -> str:
    """A short name for a public key: the first 8 bytes of its SHA-256, in hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def pseudonymise(key: bytes, person_id: str) -> str:
    """The stable pseudonym of a person under ``key``: ``p-`` + 128 bits of HMAC-SHA-256."""
    return "p-" + hmac.new(key, person_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_pem(public_key: bytes) -> str:
    """The raw 32-byte Ed25519 public key as a PEM SubjectPublicKeyInfo (for openssl users)."""
    pem = Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def load_public_key(path: Path) -> bytes:
    """A raw Ed25519 public key from a PEM file or a file of 64 hex digits (an export's key)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        raw = bytes.fromhex(text)
        Ed25519PublicKey.from_public_bytes(raw)
        return raw
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: not an Ed25519 public key, PEM or hex ({exc})") from exc


@dataclass(frozen=True)
class LedgerKeys:
    """A loaded key file: the checkpoint signing key and the pseudonym key."""

    signing_key: Ed25519PrivateKey
    pseudonym_key: bytes
    path: Path | None = None

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self.signing_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        """:func:`key_id` of the public key."""
        return key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``."""
        return self.signing_key.sign(message)

    def pseudonym(self, person_id: str) -> str:
        """:func:`pseudonymise` with this file's pseudonym key."""
        return pseudonymise(self.pseudonym_key, person_id)

    @classmethod
    def generate(cls) -> LedgerKeys:
        """Fresh random keys (not yet written anywhere)."""
        return cls(Ed25519PrivateKey.generate(), os.urandom(32))

    def save(self, path: Path) -> Path:
        """Write the key file with mode 0600, refusing to overwrite an existing one."""
        raw = self.signing_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption())
        body = {"version": KEY_FILE_VERSION, "ed25519_private_key": base64.b64encode(raw).decode(),
                "pseudonym_key": base64.b64encode(self.pseudonym_key).decode(),
                "key_id": self.key_id}
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyFileError(f"{path}: key file already exists; not overwriting it") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2)
            fh.write("\n")
        return path


def load_keys(path: Path | None = None) -> LedgerKeys:
    """Read a key file (default :func:`default_key_path`); a clear error names what is wrong."""
    where = path or default_key_path()
    try:
        body = json.loads(where.read_text(encoding="utf-8"))
        signing = Ed25519PrivateKey.from_private_bytes(base64.b64decode(body["ed25519_private_key"]))
        pseudonym_key = base64.b64decode(body["pseudonym_key"])
    except FileNotFoundError as exc:
        raise KeyFileError(f"{where}: no ledger key file (run `safemed ledger init`, or pass --key "
                           f"PATH / set {KEY_ENV})") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{where}: not a valid ledger key file ({exc})") from exc
    if len(pseudonym_key) < 16:
        raise KeyFileError(f"{where}: pseudonym_key must be at least 16 bytes")
    return LedgerKeys(signing, pseudonym_key, where)


def load_or_create_keys(path: Path | None = None) -> tuple[LedgerKeys, bool]:
    """The key file at ``path``, created first if absent; returns (keys, created)."""
    where = path or default_key_path()
    if where.exists():
        return load_keys(where), False
    keys = LedgerKeys.generate()
    keys.save(where)
    return LedgerKeys(keys.signing_key, keys.pseudonym_key, where), True
