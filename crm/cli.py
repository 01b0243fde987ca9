"""``flask --app app crm ...`` commands for installs and scripts.

What they print for people is in the company's default language (``crm.i18n``: there is
no browser and no signed-in user on a command line)."""

from __future__ import annotations

import click
from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext

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
        click.echo(_("Administrator %(email)s created.", email=user.email))

    @group.command("demo")
    @click.option("--port", default="5000")
    def demo(port: str) -> None:
        """Load the demo company into an empty database and print how to sign in."""
        from crm import demo as demo_data

        login = demo_data.ensure_demo()
        click.echo("")
        click.echo("  " + _("Atelier CRM is starting on %(url)s", url="http://127.0.0.1:" + port))
        if login:
            click.echo(
                "  "
                + _(
                    "Sign in as %(email)s with the password %(password)s",
                    email=login.email,
                    password=login.password,
                )
            )
            if login.others:
                click.echo("  " + _("To see what a role sees, sign in with the same password as:"))
                for email, role in login.others:
                    click.echo(f"    {email:<34} {role}")
        else:
            click.echo("  " + _("This database already had users; sign in with your own account."))
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
                ngettext(
                    "Planner statistics are missing or stale for %(num)d table: "
                    "run `flask --app app crm optimize`.",
                    "Planner statistics are missing or stale for %(num)d tables: "
                    "run `flask --app app crm optimize`.",
                    len(stale),
                )
            )
        if problems:
            for problem in problems:
                click.echo(f"  ✗ {problem}")
            click.echo(
                ngettext(
                    "%(num)d difference between the metadata and the database.",
                    "%(num)d differences between the metadata and the database.",
                    len(problems),
                )
            )
            if searching:
                click.echo(
                    ngettext(
                        "%(num)d of them concerns quick search: run `%(command)s` to rebuild "
                        "its structures.",
                        "%(num)d of them concern quick search: run `%(command)s` to rebuild "
                        "its structures.",
                        len(searching),
                        command=REPAIR,
                    )
                )
            raise click.exceptions.Exit(1)
        fields = sum(len(s.fields) for s in compiled.entities.values())
        click.echo(
            _(
                "The database matches the metadata: %(entities)s, %(fields)s"
                " (metadata version %(version)s).",
                entities=ngettext("%(num)d entity", "%(num)d entities", len(compiled.entities)),
                fields=ngettext("%(num)d field", "%(num)d fields", fields),
                version=compiled.version,
            )
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
        click.echo(
            ngettext(
                "Planner statistics refreshed for %(num)d table.",
                "Planner statistics refreshed for %(num)d tables.",
                len(done),
            )
        )

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
        click.echo(
            ngettext(
                "Search structures rebuilt for %(num)d table.",
                "Search structures rebuilt for %(num)d tables.",
                len(done),
            )
        )

    @group.command("worker")
    @click.option("--workers", type=int, default=None, help="Threads (default JOBS_WORKERS).")
    @click.option("--quiet", is_flag=True, help="Log warnings and errors only.")
    def worker(workers: int | None, quiet: bool) -> None:
        """Run the job queue's consumer (Huey) for this app until stopped (Ctrl-C or
        SIGTERM: it finishes the jobs it is running first). Production runs it as its own
        process beside the web server, on the same REDIS_URL and DATABASE_URL."""
        import logging

        from flask import current_app

        from crm.jobs.queue import consumer

        logging.basicConfig(
            level=logging.WARNING if quiet else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            running = consumer(app, workers=workers)
        except RuntimeError as exc:
            click.echo(str(exc), err=True)
            raise click.exceptions.Exit(1) from None
        running.run()

    from crm.api.cli import token_group
    from crm.imports.cli import import_command
    from crm.packages.cli import package_group

    group.add_command(package_group)
    group.add_command(token_group)
    group.add_command(import_command)
    app.cli.add_command(group)
