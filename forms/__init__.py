"""WTForms classes. Every form derives from ``forms.base.BaseForm`` (CSRF included)."""
