"""lineaged: keep a Neo4j lineage graph in step with directories of SQL files."""

__version__ = "0.1.0"
