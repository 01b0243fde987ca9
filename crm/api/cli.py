"""``flask --app app crm token create``: a token for scripted set-ups."""

from __future__ import annotations

import click
from flask_babel import gettext as _

from crm.errors import DomainError


@click.group("token", help="Personal API tokens.")
def token_group() -> None:
    """Personal API tokens."""


@token_group.command("create")
@click.option("--email", required=True, help="The person the token acts as.")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--read-only", is_flag=True, default=False, help="Refuse every write.")
@click.option(
    "--expires", type=click.IntRange(1, 3650), default=None, help="Days until it expires."
)
@click.option("--entity", "entities", multiple=True, help="Limit it to this entity (repeatable).")
def create(
    email: str, name: str, read_only: bool, expires: int | None, entities: tuple[str, ...]
) -> None:
    """Create a token; the token itself is printed on the last line (shown only once)."""
    from crm.api import tokens

    try:
        user = tokens.user_by_email(email)
        made = tokens.create(
            user, name, read_only=read_only, expires_days=expires, entities=entities or None
        )
    except DomainError as exc:
        for field, messages in (exc.errors or {"": [exc.message]}).items():
            for message in messages:
                click.echo(f"{field}: {message}" if field else message, err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(
        _(
            "Token %(name)s created for %(email)s. It is shown only this once:",
            name=made.token.name,
            email=user.email,
        )
    )
    click.echo(made.secret)
