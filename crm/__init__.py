"""Atelier CRM: a server-rendered, low-code CRM configurator."""
