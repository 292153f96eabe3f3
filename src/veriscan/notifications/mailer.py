"""Sending one e-mail through the configured SMTP server, with the standard library.

smtplib speaks STARTTLS, implicit TLS and AUTH, which is all a relay needs; a
notification is a single short message sent from a worker thread, so neither an async
client nor a templating library would earn its dependency.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from veriscan.core.config import Settings


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def build(settings: Settings, to: tuple[str, str], subject: str, body: str) -> EmailMessage:
    address, name = to
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = formataddr((name, address))
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="veriscan")
    message.set_content(body)
    return message


def send(settings: Settings, message: EmailMessage) -> None:
    """Deliver one message; raises OSError or smtplib.SMTPException when it cannot."""
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    client: smtplib.SMTP
    tls = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    if settings.smtp_security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=tls)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        client.send_message(message)
