"""Designer views: lists."""
