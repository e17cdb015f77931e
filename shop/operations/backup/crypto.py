"""The backup file format: a stream of AES-256-GCM chunks, each authenticated on its own.

    MAGIC | salt (16) | nonce prefix (8) | then per chunk: length (4, big endian) | ciphertext+tag

The file key is HKDF-SHA256(BACKUP_KEY, salt), so no two files share a key and the 96-bit nonces
(prefix + chunk counter) never repeat under one key. Each chunk's associated data binds the
header, its position and whether it is the last one: a chunk moved, dropped, swapped with
another file's or a file cut short all fail to decrypt, and `DecryptingReader` refuses a stream
that ends before the chunk marked last. Memory use is one chunk, whatever the database size.
"""

import io
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"STOREFRONT-BACKUP-1\n"
CHUNK = 1024 * 1024
_INFO = b"storefront backup file key v1"


class BackupCorrupt(Exception):
    """The file is not a backup made with this key, or it was altered or cut short."""


def _file_key(key: str, salt: bytes) -> AESGCM:
    if len(key) < 32:
        raise ValueError("BACKUP_KEY must be at least 32 characters (e.g. secrets.token_urlsafe(32)).")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(key.encode())
    return AESGCM(derived)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">Q?", index, last)


class EncryptingWriter(io.RawIOBase):
    """A write-only file object: what is written to it lands encrypted in `out`. close() seals it."""

    def __init__(self, out, *, key: str):
        self._out = out
        salt, prefix = os.urandom(16), os.urandom(8)
        self._header = MAGIC + salt + prefix
        self._aead = _file_key(key, salt)
        self._prefix = prefix
        self._index = 0
        self._buffer = bytearray()
        out.write(self._header)

    def writable(self):
        return True

    def write(self, data) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # keep at least one byte back: the last chunk is sealed on close
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._header, self._index, last))
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def close(self):
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


class DecryptingReader(io.RawIOBase):
    """A read-only file object over an encrypted backup; raises BackupCorrupt on any tampering."""

    def __init__(self, source, *, key: str):
        self._in = source
        header = source.read(len(MAGIC) + 24)
        if len(header) != len(MAGIC) + 24 or not header.startswith(MAGIC):
            raise BackupCorrupt("not a Storefront backup file")
        salt, self._prefix = header[len(MAGIC) : len(MAGIC) + 16], header[len(MAGIC) + 16 :]
        self._header = header
        self._aead = _file_key(key, salt)
        self._index = 0
        self._plain = b""
        self._done = False

    def readable(self):
        return True

    def _next_chunk(self) -> None:
        raw_length = self._in.read(4)
        if len(raw_length) != 4:
            raise BackupCorrupt("the file ends before its last chunk (cut short)")
        (length,) = struct.unpack(">I", raw_length)
        sealed = self._in.read(length)
        if len(sealed) != length:
            raise BackupCorrupt("the file ends inside a chunk (cut short)")
        nonce = self._prefix + struct.pack(">I", self._index)
        for last in (False, True):
            try:
                self._plain = self._aead.decrypt(nonce, sealed, _aad(self._header, self._index, last))
            except InvalidTag:
                continue
            self._done = last
            break
        else:
            raise BackupCorrupt(f"chunk {self._index} does not authenticate (wrong key or altered file)")
        self._index += 1
        if self._done and self._in.read(1):
            raise BackupCorrupt("data after the last chunk")

    def readinto(self, buffer) -> int:
        while not self._plain and not self._done:
            self._next_chunk()
        count = min(len(buffer), len(self._plain))
        buffer[:count] = self._plain[:count]
        self._plain = self._plain[count:]
        return count
