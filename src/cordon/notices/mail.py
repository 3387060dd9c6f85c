"""Notices by e-mail: one plain-text message with the evidence as a JSON attachment."""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from cordon.config import SmtpSettings

SMTP_PASSWORD_FILE = "smtp-password"  # noqa: S105  # a file name in the key directory


class MailError(Exception):
    """The message could not be handed to the SMTP server; the message says why."""


def compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    document: dict[str, Any],
    delivery_key: str,
    notice_id: int,
    sent_at: Any,
    attachments: Sequence[tuple[str, dict[str, Any]]] = (),
) -> EmailMessage:
    """The e-mail of one notice round: the text as the body, ``document`` as notice.json,
    then each of ``attachments`` (file name, JSON document) as its own JSON file."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(idstring=delivery_key, domain=sender.rpartition("@")[2])
    message["X-Cordon-Notice"] = str(notice_id)
    message["X-Cordon-Delivery"] = delivery_key
    message.set_content(text)
    message.add_attachment(
        json.dumps(document, indent=1, ensure_ascii=False).encode(),
        maintype="application",
        subtype="json",
        filename="notice.json",
    )
    for filename, attached in attachments:
        message.add_attachment(
            json.dumps(attached, indent=1, ensure_ascii=False).encode(),
            maintype="application",
            subtype="json",
            filename=filename,
        )
    return message


def send(settings: SmtpSettings, key_dir: Path, message: EmailMessage) -> None:
    """Hand ``message`` to the configured SMTP server (STARTTLS and login as configured).

    Raises :class:`MailError` naming the failure.
    """
    if not settings.host:
        raise MailError("e-mail is disabled: smtp.host is not set")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            if settings.starttls:
                # smtplib's own default would accept any certificate: verify the server's.
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                password = (key_dir / SMTP_PASSWORD_FILE).read_text(encoding="utf-8").strip()
                smtp.login(settings.username, password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {settings.host}:{settings.port}: {exc}") from exc
    if refused:
        raise MailError(f"SMTP server refused recipient(s): {', '.join(sorted(refused))}")
