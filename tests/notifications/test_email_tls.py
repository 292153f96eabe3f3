"""The mailer's TLS modes against a real SMTP server (aiosmtpd) with its own certificate:
implicit TLS, STARTTLS with AUTH, and a certificate nobody said to trust."""

from __future__ import annotations

import datetime
import ipaddress
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.notifications.helpers import Mailbox, free_port
from veriscan.core.config import Settings
from veriscan.notifications import mailer

USER, PASSWORD = "veriscan", "smtp-secret"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "veriscan-test-smtp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        self.seen.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok)


@contextmanager
def running(controller: Controller) -> Iterator[None]:
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def _settings(port: int, security: str, ca_file: Path | None, **extra: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security=security,
        smtp_ca_file=str(ca_file) if ca_file else "",
        smtp_timeout=5.0,
        smtp_from="Veriscan <alerts@veriscan.test>",
        **extra,
    )


def _message(settings: Settings) -> Any:
    return mailer.build(settings, ("ana@example.com", "Ana"), "TLS check", "hello\n")


def test_implicit_tls_delivers_when_the_ca_is_trusted(certificate: tuple[Path, Path]) -> None:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate)
    )
    with running(controller):
        settings = _settings(port, "tls", certificate[0])
        mailer.send(settings, _message(settings))
        [message] = mailbox.wait_for(1)
    assert message["Subject"] == "TLS check"
    assert mailbox.recipients == [["ana@example.com"]]


def test_starttls_with_login_delivers_and_nothing_goes_in_clear(
    certificate: tuple[Path, Path],
) -> None:
    mailbox, port, logins = Mailbox(), free_port(), Logins()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=logins,
        auth_required=True,
        auth_require_tls=True,
    )
    with running(controller):
        settings = _settings(
            port, "starttls", certificate[0], smtp_username=USER, smtp_password=PASSWORD
        )
        mailer.send(settings, _message(settings))
        [message] = mailbox.wait_for(1)
        assert message["To"] == "Ana <ana@example.com>"
        # Without TLS the server refuses to go on: nothing is sent in clear.
        plain = _settings(port, "none", None)
        with pytest.raises(smtplib.SMTPException):
            mailer.send(plain, _message(plain))
    assert logins.seen == [(USER, True)]
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_certificate_nobody_trusts_is_refused(
    certificate: tuple[Path, Path], security: str
) -> None:
    mailbox, port = Mailbox(), free_port()
    context = _server_context(certificate)
    controller = (
        Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=context)
        if security == "tls"
        else Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context)
    )
    with running(controller):
        settings = _settings(port, security, None)
        with pytest.raises(ssl.SSLCertVerificationError):
            mailer.send(settings, _message(settings))
    assert mailbox.messages == []
