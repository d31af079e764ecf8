"""The credential encryption key ring: ENCRYPTION_KEY (comma-separated) or a 0600 key file in the data dir.

The first key encrypts; every key decrypts (MultiFernet), so adding a new key in front and running
`archon credentials rotate` moves every stored secret to it, after which the old keys can go.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from archon.config import Settings
from archon.errors import ConfigurationError

log = logging.getLogger(__name__)

KEY_FILE_NAME = "encryption.key"
_OWNER_ONLY = 0o600


class DecryptionFailed(Exception):
    """A stored token does not decrypt with any configured key (the message never holds the token)."""


def key_file_path(data_dir: Path) -> Path:
    """Where the generated key lives when ENCRYPTION_KEY is not set."""
    return data_dir / KEY_FILE_NAME


def generate_key() -> str:
    """A fresh Fernet key (urlsafe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode("ascii")


def _parse_keys(text: str, origin: str) -> tuple[list[str], list[Fernet]]:
    keys = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise ConfigurationError(f"{origin} holds no key")
    fernets: list[Fernet] = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            # Never echo the key: name its position only.
            raise ConfigurationError(
                f"{origin}: key #{position} is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "create one with `archon credentials generate-key`"
            ) from None
    return keys, fernets


def _tighten(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by other users (mode %o); restricting it to its owner", path, mode)
        os.chmod(path, _OWNER_ONLY)


def write_key_file(path: Path, keys: list[str], *, exclusive: bool = False) -> None:
    """Write `keys` (newest first) with mode 0600 from the first byte; `exclusive` fails if the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    temp = path if exclusive else path.with_suffix(".tmp")
    fd = os.open(temp, flags, _OWNER_ONLY)
    try:
        os.fchmod(fd, _OWNER_ONLY)  # O_CREAT's mode is masked by umask and ignored for existing files
        os.write(fd, ("\n".join(keys) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if not exclusive:
        os.replace(temp, path)  # atomic: a reader sees the old ring or the new one, never half a file


def _load_or_create_file(path: Path) -> str:
    with contextlib.suppress(FileExistsError):
        write_key_file(path, [generate_key()], exclusive=True)
        log.info("generated a new credential encryption key in %s (mode 0600); back it up", path)
    _tighten(path)
    return path.read_text(encoding="ascii")


@dataclass(frozen=True)
class KeyRing:
    """The loaded keys (newest first) and where they came from ("ENCRYPTION_KEY" or the key file path)."""

    keys: tuple[str, ...] = field(repr=False)
    fernets: tuple[Fernet, ...] = field(repr=False)
    origin: str
    file: Path | None
    file_mtime_ns: int | None = None

    @property
    def size(self) -> int:
        return len(self.fernets)

    def cipher(self) -> MultiFernet:
        return MultiFernet(list(self.fernets))


def load_key_ring(settings: Settings) -> KeyRing:
    """ENCRYPTION_KEY when set, else the data directory's key file (created on first use)."""
    if settings.encryption_key is not None:
        keys, fernets = _parse_keys(settings.encryption_key.get_secret_value(), "ENCRYPTION_KEY")
        return KeyRing(tuple(keys), tuple(fernets), "ENCRYPTION_KEY", None)
    path = key_file_path(settings.data_dir)
    keys, fernets = _parse_keys(_load_or_create_file(path), str(path))
    return KeyRing(tuple(keys), tuple(fernets), str(path), path, path.stat().st_mtime_ns)


class Cipher:
    """Encrypts with the newest key, decrypts with any; re-reads the key file if another process rotated it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.ring = load_key_ring(settings)
        self._multi = self.ring.cipher()

    def reload(self) -> None:
        """Re-read the keys (after `archon credentials rotate` changed the key file)."""
        self.ring = load_key_ring(self._settings)
        self._multi = self.ring.cipher()

    def _file_changed(self) -> bool:
        file = self.ring.file
        try:
            return file is not None and file.stat().st_mtime_ns != self.ring.file_mtime_ns
        except FileNotFoundError:
            return False

    def encrypt(self, plaintext: str) -> str:
        # Another process may have rotated the key file: never encrypt with a key it has since dropped.
        if self._file_changed():
            self.reload()
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            if self.ring.file is None:
                raise DecryptionFailed("not decryptable with ENCRYPTION_KEY") from None
        self.reload()
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DecryptionFailed(f"not decryptable with the keys in {self.ring.origin}") from None

    def rotate(self, token: str) -> str:
        """The same secret encrypted with the newest key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise DecryptionFailed(f"not decryptable with the keys from {self.ring.origin}") from None
