"""Designer views: layouts."""
