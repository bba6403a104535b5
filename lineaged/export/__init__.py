"""Lineage out of the graph, for other tools (OpenLineage)."""
