"""The demo company's people in three languages: its department names in Chinese and
Spanish, and each person's language and time zone, so that ``make run`` shows a CRM read
in three languages: sign in as 林美华 (Chinese, Shanghai) or Lucía (Spanish, Madrid) and
every entity, field, picklist value, section and shared view reads in their language (the
B2B sales starter's translations); the head office reads English in London.

The configuration's labels are the starter's (``schemas/starters/b2b-sales.json``); what
is here is the demo's base data only."""

from __future__ import annotations

from sqlalchemy import select

from crm.access.models import Department, User
from crm.extensions import db

# department name -> (zh, es)
DEPARTMENT_NAMES = {
    "Sales": ("销售部", "Ventas"),
    "Sales EMEA": ("欧洲、中东和非洲销售部", "Ventas EMEA"),
    "Sales APAC": ("亚太销售部", "Ventas APAC"),
    "Sales Americas": ("美洲销售部", "Ventas América"),
    "Customer Care": ("客户服务部", "Atención al cliente"),
    "Finance": ("财务部", "Finanzas"),
}
# e-mail local part -> (language, time zone); the administrator is the head office.
PEOPLE = {
    "admin": ("en", "Europe/London"),
    "grace": ("en", "Europe/London"),
    "ingrid": ("en", "Europe/Stockholm"),
    "amelie": ("es", "Europe/Paris"),
    "jonas": ("en", "Europe/Berlin"),
    "meihua": ("zh_Hans", "Asia/Shanghai"),
    "kenji": ("en", "Asia/Tokyo"),
    "lucia": ("es", "Europe/Madrid"),
    "omar": ("en", "Asia/Dubai"),
    "priya": ("en", "Asia/Kolkata"),
}


def load(domain: str = "demo.atelier.example") -> None:
    """Give the demo departments their translated names and the demo people their
    languages and time zones (one transaction)."""
    query = select(Department).where(Department.name.in_(list(DEPARTMENT_NAMES)))
    for row in db.session.scalars(query):
        zh, es = DEPARTMENT_NAMES[row.name]
        row.translations = {"name": {"zh_Hans": zh, "es": es}}
    for local, (locale, zone) in PEOPLE.items():
        user = db.session.scalar(select(User).where(User.email == f"{local}@{domain}"))
        if user is not None:
            user.locale, user.timezone = locale, zone
    db.session.commit()
