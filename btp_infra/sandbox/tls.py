"""The emulator's certificate authority: server certificate for the TLS listener and x509 client certificates
for Service Manager bindings created with ``{"credential-type": "x509"}`` (btp-api.md §B.1).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedCertificate:
    """PEM chain (leaf first, then the CA), unencrypted PEM key, serial number and expiry."""

    certificate_pem: str
    key_pem: str
    serial: int
    not_after: datetime


def _name(common_name: str, *units: str) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "btp-infra sandbox"),
    ]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit) for unit in units]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class CertificateAuthority:
    """An in-memory CA (EC P-256) that signs the server certificate and client certificates."""

    def __init__(self, common_name: str = "btp-infra sandbox CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> str:
        return _pem(self.certificate)

    def _issue(
        self,
        subject: x509.Name,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        validity: timedelta,
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None = None,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _SKEW)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def issue_server(self) -> tuple[str, str]:
        """(certificate chain PEM, key PEM) for ``127.0.0.1`` / ``localhost``."""
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        )
        cert = self._issue(_name("127.0.0.1"), key, timedelta(days=30), ExtendedKeyUsageOID.SERVER_AUTH, san)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return _pem(cert) + self.pem, key_pem

    def issue_client(
        self, common_name: str, *, locality: str, validity: timedelta, key_size: int = 2048
    ) -> IssuedCertificate:
        """An RSA client certificate (``CN=common_name, L=locality``) like XSUAA's x509 credentials."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        subject = x509.Name(
            [
                *_name(common_name, "SAP Cloud Platform Clients", "sandbox"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
            ]
        )
        cert = self._issue(subject, key, validity, ExtendedKeyUsageOID.CLIENT_AUTH)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        return IssuedCertificate(_pem(cert) + self.pem, key_pem, cert.serial_number, cert.not_valid_after_utc)


def certificate_serial(der: bytes) -> int:
    """Serial number of a DER certificate (the TLS peer certificate)."""
    return x509.load_der_x509_certificate(der).serial_number
