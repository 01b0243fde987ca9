"""Pipelines and stages: the company's process as metadata, the rules every channel
passes when a record moves (gates, lost reasons, probability), stage history, boards and
the weighted forecast."""
