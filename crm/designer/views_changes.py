"""Designer views: changes."""
