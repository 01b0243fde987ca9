"""``flask --app app crm ...`` commands for installs and scripts."""

from __future__ import annotations

import click
from flask import Flask

from crm.errors import ValidationFailed


def register_cli(app: Flask) -> None:
    """Attach the ``crm`` command group to ``app``."""
    group = click.Group("crm", help="Atelier CRM administration.")

    @group.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", "display_name", default="Administrator", show_default=True)
    def create_admin(email: str, password: str, display_name: str) -> None:
        """Create an administrator (non-interactive when --email and --password are given)."""
        from crm.auth import service

        try:
            if service.needs_first_admin():
                user = service.create_first_admin(
                    email=email, display_name=display_name, password=password
                )
            else:
                user = service.create_user(
                    email=email, display_name=display_name, password=password, is_admin=True
                )
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    click.echo(f"{field}: {message}", err=True)
            raise click.exceptions.Exit(1) from None
        click.echo(f"Administrator {user.email} created.")

    @group.command("demo")
    @click.option("--port", default="5000")
    def demo(port: str) -> None:
        """Load the demo company into an empty database and print how to sign in."""
        from crm import demo as demo_data

        login = demo_data.ensure_demo()
        click.echo("")
        click.echo("  Atelier CRM is starting on http://127.0.0.1:" + port)
        if login:
            click.echo(f"  Sign in as {login.email} with the password {login.password}")
            if login.others:
                click.echo("  To see what a role sees, sign in with the same password as:")
                for email, role in login.others:
                    click.echo(f"    {email:<34} {role}")
        else:
            click.echo("  This database already had users; sign in with your own account.")
        click.echo("")

    @group.command("doctor")
    def doctor() -> None:
        """Compare the metadata with the database's real schema; exit 1 on any difference."""
        from crm.extensions import db
        from crm.metadata import specs
        from crm.schema.doctor import REPAIR, reconcile, search_problems
        from crm.schema.stats import statistics_problems

        compiled = specs.current()
        problems = reconcile(db.session.connection(), compiled)
        searching = search_problems(db.session.connection(), compiled)
        stale = statistics_problems(db.session.connection(), compiled)
        db.session.rollback()
        for problem in stale:  # a slow plan, not a fault: said, but no failure
            click.echo(f"  ! {problem}")
        if stale:
            click.echo(
                f"Planner statistics are missing or stale for {len(stale)} table(s): "
                "run `flask --app app crm optimize`."
            )
        if problems:
            for problem in problems:
                click.echo(f"  ✗ {problem}")
            click.echo(f"{len(problems)} difference(s) between the metadata and the database.")
            if searching:
                click.echo(
                    f"{len(searching)} of them concern quick search: "
                    f"run `{REPAIR}` to rebuild its structures."
                )
            raise click.exceptions.Exit(1)
        fields = sum(len(s.fields) for s in compiled.entities.values())
        click.echo(
            f"The database matches the metadata: {len(compiled.entities)} entities, "
            f"{fields} fields (metadata version {compiled.version})."
        )

    @group.command("optimize")
    def optimize() -> None:
        """Refresh the planner statistics of every entity table (SQLite: ANALYZE and PRAGMA
        optimize; PostgreSQL: ANALYZE). Run it on a schedule, e.g. nightly from cron, until
        the job queue runs it."""
        from crm.metadata import specs
        from crm.schema.stats import refresh_all
        from crm.uow import unit_of_work

        with unit_of_work():
            done = refresh_all(specs.current())
        click.echo(f"Planner statistics refreshed for {len(done)} table(s).")

    @group.command("rebuild-search")
    @click.argument("entity", required=False)
    def rebuild_search(entity: str | None) -> None:
        """Rebuild quick search's index structures (of every entity, or of ENTITY) from the
        metadata, indexing every record: the repair for what `crm doctor` reports about
        search. Writes to the tables wait while it runs (seconds per million records)."""
        from crm.schema.repair import rebuild_search as rebuild

        try:
            done = rebuild(entity)
        except ValidationFailed as exc:
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from None
        click.echo(f"Search structures rebuilt for {len(done)} table(s).")

    app.cli.add_command(group)
