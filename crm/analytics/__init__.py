"""Pipeline analytics, the forecast with its targets, and dashboards (issue 19)."""
