"""Users, sessions, log-in; later departments, roles and the access policy."""
