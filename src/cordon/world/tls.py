"""The world's certificate authority and the per-site certificates it signs.

Keys are derived from the world's seed and signatures are deterministic (RFC 6979), so the CA
certificate is the same on every build of a seed. Site certificates are made at serve time, in
memory, the first time a client names the site in SNI.
"""

from __future__ import annotations

import os
import ssl
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cordon.world.spec import derive

# Fixed validity dates: TLS clients check them against the machine's real clock, not the
# world's, and fixed dates keep the CA certificate byte-identical across builds.
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)
CA_FILE = "ca/world-ca.pem"
CA_KEY_FILE = "ca/world-ca-key.pem"


def _key(seed: int, *parts: object) -> ec.EllipticCurvePrivateKey:
    scalar = (derive(seed, "key", *parts) << 64 | derive(seed, "key2", *parts)) or 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)


def make_ca(seed: int) -> tuple[bytes, bytes]:
    """The world CA of ``seed``: (certificate PEM, private key PEM)."""
    key = _key(seed, "ca")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cordon synthetic world"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Cordon World CA {seed}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(derive(seed, "ca-serial") >> 1 or 1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _sign(builder, key)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def write_ca(seed: int, folder: Path) -> None:
    """Write the CA certificate and key under ``folder`` (key readable by the owner only)."""
    cert_pem, key_pem = make_ca(seed)
    (folder / CA_FILE).parent.mkdir(parents=True, exist_ok=True)
    (folder / CA_FILE).write_bytes(cert_pem)
    key_path = folder / CA_KEY_FILE
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)


class SiteCertificates:
    """Server TLS contexts, one per site name, signed by the world CA on first use."""

    def __init__(self, seed: int, ca_cert_pem: bytes, ca_key_pem: bytes) -> None:
        self._seed = seed
        self._ca = x509.load_pem_x509_certificate(ca_cert_pem)
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the world CA key must be an EC key")
        self._ca_key = key
        self._leaf_key = _key(seed, "leaf")
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._contexts: dict[str, ssl.SSLContext] = {}

    @classmethod
    def from_folder(cls, seed: int, folder: Path) -> SiteCertificates:
        """Load the CA written by :func:`write_ca`."""
        return cls(seed, (folder / CA_FILE).read_bytes(), (folder / CA_KEY_FILE).read_bytes())

    def certificate_pem(self, name: str) -> bytes:
        """A certificate for ``name`` and ``www.name``, signed by the world CA."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._ca.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(derive(self._seed, "serial", name) >> 1 or 1)
            .not_valid_before(NOT_BEFORE)
            .not_valid_after(NOT_AFTER)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name), x509.DNSName(f"www.{name}")]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                critical=False,
            )
        )
        return _sign(builder, self._ca_key).public_bytes(serialization.Encoding.PEM)

    def context(self, name: str) -> ssl.SSLContext:
        """The server context presenting ``name``'s certificate (made once, then reused)."""
        ctx = self._contexts.get(name)
        if ctx is None:
            ctx = server_context()
            _load_chain(ctx, self.certificate_pem(name) + self._leaf_key_pem)
            self._contexts[name] = ctx
        return ctx


def server_context() -> ssl.SSLContext:
    """A TLS server context with modern defaults."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _load_chain(ctx: ssl.SSLContext, pem: bytes) -> None:
    # ssl loads certificates only from a path; an anonymous memory file keeps keys off disk.
    fd = os.memfd_create("world-cert", os.MFD_CLOEXEC)
    try:
        os.write(fd, pem)
        ctx.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
