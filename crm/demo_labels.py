"""The demo company's labels in Chinese and Spanish, and its people's languages and time
zones, so that ``make run`` shows a CRM read in three languages: sign in as 林美华 (Chinese,
Shanghai) or Lucía (Spanish, Madrid) and every entity, field, picklist value, section and
shared view reads in their language; the head office reads English in London.

Everything goes through the services an administrator's changes go through (the schema
service, the layout and list-view services)."""

from __future__ import annotations

from sqlalchemy import select

from crm.access.models import Department, Role, User
from crm.extensions import db

# entity -> ((singular zh, es), (plural zh, es))
ENTITIES = {
    "account": (("客户", "Cuenta"), ("客户", "Cuentas")),
    "contact": (("联系人", "Contacto"), ("联系人", "Contactos")),
    "deal": (("商机", "Oportunidad"), ("商机", "Oportunidades")),
    "ticket": (("工单", "Incidencia"), ("工单", "Incidencias")),
}
# (entity, field) -> (zh, es)
FIELDS = {
    ("account", "name"): ("客户名称", "Nombre de la cuenta"),
    ("account", "number"): ("客户编号", "N.º de cuenta"),
    ("account", "industry"): ("行业", "Sector"),
    ("account", "website"): ("网站", "Sitio web"),
    ("account", "phone"): ("电话", "Teléfono"),
    ("account", "country"): ("国家/地区", "País"),
    ("account", "city"): ("城市", "Ciudad"),
    ("account", "annual_revenue"): ("年收入", "Ingresos anuales"),
    ("account", "employees"): ("员工人数", "Empleados"),
    ("account", "customer_since"): ("成为客户日期", "Cliente desde"),
    ("account", "notes"): ("备注", "Notas"),
    ("contact", "full_name"): ("姓名", "Nombre"),
    ("contact", "account"): ("客户", "Cuenta"),
    ("contact", "job_title"): ("职位", "Cargo"),
    ("contact", "email"): ("电子邮件", "Correo electrónico"),
    ("contact", "phone"): ("电话", "Teléfono"),
    ("contact", "newsletter"): ("订阅简报", "Recibe el boletín"),
    ("deal", "title"): ("商机名称", "Oportunidad"),
    ("deal", "account"): ("客户", "Cuenta"),
    ("deal", "contact"): ("主要联系人", "Contacto principal"),
    ("deal", "amount"): ("金额", "Importe"),
    ("deal", "probability"): ("赢单概率", "Probabilidad"),
    ("deal", "close_date"): ("预计成交日期", "Cierre previsto"),
    ("deal", "products"): ("产品", "Productos"),
    ("ticket", "subject"): ("主题", "Asunto"),
    ("ticket", "account"): ("客户", "Cuenta"),
    ("ticket", "contact"): ("报告人", "Notificado por"),
    ("ticket", "priority"): ("优先级", "Prioridad"),
    ("ticket", "description"): ("问题描述", "Descripción"),
    ("ticket", "resolution"): ("解决方案", "Solución"),
}
# (entity, field) -> {choice: (zh, es)}
CHOICES = {
    ("account", "industry"): {
        "manufacturing": ("制造业", "Fabricación"),
        "retail": ("零售", "Comercio minorista"),
        "software": ("软件", "Software"),
        "health": ("医疗健康", "Sanidad"),
        "finance": ("金融", "Finanzas"),
        "education": ("教育", "Educación"),
    },
    ("ticket", "priority"): {
        "low": ("低", "Baja"),
        "normal": ("普通", "Normal"),
        "high": ("高", "Alta"),
        "urgent": ("紧急", "Urgente"),
    },
    ("deal", "products"): {
        "core": ("核心许可", "Licencia principal"),
        "support": ("高级支持", "Soporte prémium"),
        "training": ("培训", "Formación"),
    },
}
# entity -> sections: (title, zh, es, columns, fields per column)
SECTIONS = {
    "account": [
        ("Company", "公司信息", "Empresa", 2,
         [["name", "industry", "website", "phone"], ["number", "annual_revenue", "employees",
                                                     "customer_since"]]),
        ("Address", "地址", "Dirección", 2, [["country"], ["city"]]),
        ("Notes", "备注", "Notas", 1, [["notes"]]),
    ],
    "deal": [
        ("Deal", "商机信息", "Oportunidad", 2,
         [["title", "account", "contact"], ["pipeline", "stage", "probability", "close_date"]]),
        ("Value", "金额", "Importe", 2, [["amount"], ["products", "lost_reason"]]),
    ],
    "ticket": [
        ("Ticket", "工单信息", "Incidencia", 2,
         [["subject", "account", "contact"], ["pipeline", "stage", "priority"]]),
        ("Details", "详情", "Detalles", 1, [["description", "resolution", "lost_reason"]]),
    ],
}  # fmt: skip
# entity -> shared views: (name, zh, es, columns, sort, filters, default)
VIEWS = {
    "deal": [
        ("Open deals", "进行中的商机", "Oportunidades abiertas",
         ["title", "account", "pipeline", "stage", "amount", "close_date"],
         [["close_date", "asc"]],
         [{"field": "stage", "op": "not_in", "value": ["won", "lost", "renewed", "churned"]}],
         True),
        ("Won deals", "已赢单商机", "Oportunidades ganadas",
         ["title", "account", "amount", "close_date"], [["close_date", "desc"]],
         [{"field": "stage", "op": "in", "value": ["won", "renewed"]}], False),
    ],
    "ticket": [
        ("Open tickets", "未关闭的工单", "Incidencias abiertas",
         ["subject", "account", "priority", "stage"], [["created_at", "desc"]],
         [{"field": "stage", "op": "not_in", "value": ["solved", "unsolved"]}], True),
    ],
    "account": [
        ("Software accounts", "软件行业客户", "Cuentas de software",
         ["name", "country", "city", "employees"], [["name", "asc"]],
         [{"field": "industry", "op": "in", "value": ["software"]}], False),
    ],
}  # fmt: skip
# role / department name -> (zh, es)
ROLE_NAMES = {
    "Sales rep": ("销售代表", "Representante de ventas"),
    "Sales manager": ("销售经理", "Responsable de ventas"),
    "Customer care": ("客户服务", "Atención al cliente"),
    "Finance": ("财务", "Finanzas"),
}
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
    "amelie": ("es", "Europe/Paris"),
    "jonas": ("en", "Europe/Berlin"),
    "meihua": ("zh_Hans", "Asia/Shanghai"),
    "kenji": ("en", "Asia/Tokyo"),
    "lucia": ("es", "Europe/Madrid"),
    "omar": ("en", "Asia/Dubai"),
    "priya": ("en", "Asia/Kolkata"),
}


def _pair(zh: str, es: str) -> dict[str, str]:
    return {"zh_Hans": zh, "es": es}


def load(actor_id: int | None, domain: str = "demo.atelier.example") -> None:
    """Give the demo model its translations, layouts and shared views, and the demo people
    their languages and time zones."""
    from crm.metadata import layouts, specs
    from crm.metadata import list_views as lv
    from crm.schema import service as schema

    with schema.change(actor_id) as c:
        for key, (singular, plural) in ENTITIES.items():
            c.update_entity(
                key, translations={"singular": _pair(*singular), "plural": _pair(*plural)}
            )
        for (entity, field), names in FIELDS.items():
            changes: dict = {"translations": {"label": _pair(*names)}}
            values = CHOICES.get((entity, field))
            if values:
                current = specs.raw().entity(entity).field(field)
                changes["choices"] = [
                    {**{k: v for k, v in c_.__dict__.items() if k != "labels"},
                     "labels": _pair(*values[c_.key]) if c_.key in values else {}}
                    for c_ in current.choices
                ]  # fmt: skip
            c.update_field(entity, field, **changes)
    for entity, sections in SECTIONS.items():
        layouts.save_layout(
            entity,
            "form",
            {
                "sections": [
                    {"title": t, "titles": _pair(zh, es), "columns": n, "fields": fields}
                    for t, zh, es, n, fields in sections
                ]
            },
            actor_id=actor_id,
        )
    for entity, views in VIEWS.items():
        for name, zh, es, columns, sort, filters, default in views:
            lv.save_shared_view(
                entity,
                {"name": name, "translations": _pair(zh, es), "columns": columns,
                 "sort": sort, "filters": filters, "is_default": default},
                actor_id=actor_id,
            )  # fmt: skip
    for model, names in ((Role, ROLE_NAMES), (Department, DEPARTMENT_NAMES)):
        for row in db.session.scalars(select(model).where(model.name.in_(list(names)))):
            row.translations = {"name": _pair(*names[row.name])}
    for local, (locale, zone) in PEOPLE.items():
        user = db.session.scalar(select(User).where(User.email == f"{local}@{domain}"))
        if user is not None:
            user.locale, user.timezone = locale, zone
    db.session.commit()
