"""A software passkey authenticator for tests: it answers the shop's WebAuthn options the way a
browser with a platform authenticator does (the JSON @simplewebauthn/browser posts), and can be
told to lie: another origin or RP id, no user verification, an old signature counter.

One P-256 key per credential, "none" attestation, as Chromium's virtual authenticator makes.
"""

import hashlib
import html
import json
import re
import secrets
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40
_OPTIONS = re.compile(r'data-passkey-options="([^"]*)"')


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


def options_on(response) -> dict:
    """The passkey options a page hands its script (fails the test if it has none)."""
    found = _OPTIONS.search(response.content.decode())
    assert found, "the page carries no passkey options"
    return json.loads(html.unescape(found.group(1)))


@dataclass
class Credential:
    user_handle: bytes
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    sign_count: int = 0

    @property
    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


class Authenticator:
    def __init__(self, *, origin: str = "http://localhost:8000", rp_id: str = "localhost"):
        self.origin = origin
        self.rp_id = rp_id
        self.credentials: list[Credential] = []

    # --- navigator.credentials.create() ---

    def create(self, options: dict, *, origin=None, rp_id=None, user_verified=True, credential=None) -> dict:
        """A new credential, or (`credential`) one that exists already, offered again."""
        credential = credential or Credential(user_handle=unb64url(options["user"]["id"]))
        auth_data = self._auth_data(
            rp_id or options["rp"]["id"], credential.sign_count, user_verified=user_verified, attested=credential
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(credential)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
            "authenticatorAttachment": "platform",
        }

    # --- navigator.credentials.get() ---

    def get(
        self, options: dict, *, credential=None, origin=None, rp_id=None, user_verified=True, sign_count=None
    ) -> dict:
        credential = credential or self.credentials[-1]
        if sign_count is None:
            credential.sign_count += 1
            sign_count = credential.sign_count
        auth_data = self._auth_data(rp_id or options["rpId"], sign_count, user_verified=user_verified)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _client_data(self, kind: str, challenge: str, origin) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    @staticmethod
    def _auth_data(rp_id: str, sign_count: int, *, user_verified: bool, attested: Credential | None = None) -> bytes:
        flags = UP | (UV if user_verified else 0) | (AT if attested else 0)
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(attested.credential_id)) + attested.credential_id
            data += attested.cose_public_key
        return data


def register(user, authenticator: Authenticator, *, name: str = "Test passkey"):
    """A passkey on the account, as if registered earlier (straight into the database)."""
    from django_otp_webauthn.models import WebAuthnCredential, WebAuthnUserHandle

    handle = WebAuthnUserHandle.get_handle_for_user(user)
    credential = Credential(user_handle=handle)
    authenticator.credentials.append(credential)
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        credential_id=credential.credential_id,
        public_key=credential.cose_public_key,
        sign_count=0,
        transports=["internal"],
        discoverable=True,
        aaguid="00000000-0000-0000-0000-000000000000",
    )
