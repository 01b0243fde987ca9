"""``flask --app app crm package ...``: configuration packages from the command line.

``export`` writes the company's configuration as a package (standard output by default).
Messages for people are in the company's default language (``crm.cli``)."""

from __future__ import annotations

import click
from flask_babel import gettext as _

from crm.errors import ValidationFailed

package_group = click.Group("package", help="Configuration packages: export.")


@package_group.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None)
@click.option("--name", default="configuration", show_default=True)
@click.option("--version", "version", default="1.0.0", show_default=True)
@click.option("--description", default=None)
def export_command(out: str | None, name: str, version: str, description: str | None) -> None:
    """Export the whole configuration as a package: JSON on standard output, or in --out
    FILE. The same configuration always gives the same bytes."""
    from crm.extensions import db
    from crm.packages import export

    try:
        text = export.dumps(
            export.export_package(name=name, version=version, description=description)
        )
    except ValidationFailed as exc:
        for where, messages in exc.errors.items():
            for message in messages:
                click.echo(f"--{where}: {message}", err=True)
        raise click.exceptions.Exit(1) from None
    finally:
        db.session.rollback()  # read only: end the transaction the reads opened
    if out is None:
        click.echo(text, nl=False)
        return
    with open(out, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    click.echo(_("The package was written to %(path)s.", path=out), err=True)
