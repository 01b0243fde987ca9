"""The SMTP settings: host, port, security, user, password and sender address.

Stored in ``app_settings`` (one row per setting, keys ``smtp_*``, read with one query when
a message is sent, never with the compiled metadata: the password stays out of every
cache); the environment's ``MAIL_*`` settings are the defaults that the configuration
area overrides. The password is write-only: no page ever shows it, only whether one is
set. Without a host, e-mails are only kept in the outbox (``make run`` needs no server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from crm.access import policy
from crm.auth.models import AppSetting
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.uow import unit_of_work

NONE, STARTTLS, SSL = "none", "starttls", "ssl"
SECURITY = {NONE: _l("None"), STARTTLS: _l("STARTTLS"), SSL: _l("SSL/TLS")}
DEFAULT_PORTS = {NONE: 25, STARTTLS: 587, SSL: 465}
# setting -> (app_settings key, environment default)
KEYS = {
    "host": ("smtp_host", "MAIL_HOST"),
    "port": ("smtp_port", "MAIL_PORT"),
    "security": ("smtp_security", "MAIL_SECURITY"),
    "user": ("smtp_user", "MAIL_USER"),
    "password": ("smtp_password", "MAIL_PASSWORD"),
    "from_address": ("smtp_from", "MAIL_FROM"),
}
HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how e-mail is sent; ``host`` empty: it is not sent, only kept."""

    host: str = ""
    port: int = 25
    security: str = NONE
    user: str = ""
    password: str = ""
    from_address: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def has_password(self) -> bool:
        return bool(self.password)


def current() -> SmtpSettings:
    """The settings in force: each stored one, else its ``MAIL_*`` default (one query)."""
    stored = dict(
        db.session.execute(
            select(AppSetting.key, AppSetting.value).where(
                AppSetting.key.in_([k for k, _env in KEYS.values()])
            )
        ).all()
    )
    config = current_app.config
    raw = {name: stored.get(key, str(config.get(env) or "")) for name, (key, env) in KEYS.items()}
    security = raw["security"].lower() if raw["security"].lower() in SECURITY else NONE
    try:
        port = int(raw["port"]) if raw["port"] else DEFAULT_PORTS[security]
    except ValueError:
        port = DEFAULT_PORTS[security]
    return SmtpSettings(
        host=raw["host"].strip(), port=port, security=security, user=raw["user"],
        password=raw["password"], from_address=raw["from_address"].strip(),
    )  # fmt: skip


def _check(values: dict[str, Any]) -> dict[str, list[str]]:
    from email_validator import EmailNotValidError, validate_email

    errors: dict[str, list[str]] = {}
    host = values["host"]
    if host and not HOST.match(host):
        errors["host"] = [_("Enter a host name such as smtp.example.com.")]
    port = values["port"]
    if port is not None and not 1 <= port <= 65535:
        errors["port"] = [_("Enter a port between 1 and 65535.")]
    if values["security"] not in SECURITY:
        errors["security"] = [_("Choose one of the options offered.")]
    if len(values["user"]) > 254:
        errors["user"] = [_("Use at most %(num)d characters.", num=254)]
    if len(values["password"] or "") > 500:
        errors["password"] = [_("Use at most %(num)d characters.", num=500)]
    sender = values["from_address"]
    if host and not sender:
        errors["from_address"] = [_("Enter the address e-mails are sent from.")]
    elif sender:
        try:
            validate_email(sender, check_deliverability=False, globally_deliverable=False)
        except EmailNotValidError:
            errors["from_address"] = [_("Enter an e-mail address such as crm@example.com.")]
    return errors


def save(
    actor: Any,
    *,
    host: str,
    port: int | None,
    security: str,
    user: str,
    password: str | None,
    clear_password: bool = False,
    from_address: str,
) -> None:
    """Store the SMTP settings (the configure right, else ``Forbidden``). An empty
    ``password`` keeps the stored one (the form never shows it); ``clear_password``
    removes it. Every problem is refused at once (``ValidationFailed`` keyed by setting)
    and nothing is stored; an empty host stops sending (messages are only kept)."""
    policy.require(actor, policy.CONFIGURE)
    values = {
        "host": (host or "").strip(), "port": port, "security": security or NONE,
        "user": (user or "").strip(), "password": password or "",
        "from_address": (from_address or "").strip(),
    }  # fmt: skip
    if any("\x00" in str(v) or "\n" in str(v) or "\r" in str(v) for v in values.values()):
        raise ValidationFailed(
            _("The e-mail settings were not saved."),
            errors={"host": [_("Line breaks and control characters are not allowed.")]},
        )
    errors = _check(values)
    if errors:
        raise ValidationFailed(_("The e-mail settings were not saved."), errors=errors)
    stored = {
        "host": values["host"],
        "port": str(port) if port is not None else "",
        "security": values["security"],
        "user": values["user"],
        "from_address": values["from_address"],
    }
    if values["password"]:
        stored["password"] = values["password"]
    elif clear_password:
        stored["password"] = ""
    with unit_of_work():
        for name, value in stored.items():
            key = KEYS[name][0]
            db.session.execute(delete(AppSetting).where(AppSetting.key == key))
            if value:
                db.session.add(AppSetting(key=key, value=value))
