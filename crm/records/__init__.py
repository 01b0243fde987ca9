"""The runtime: scoped queries, the record service, counts."""
