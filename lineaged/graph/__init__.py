"""Neo4j side: schema (constraints and indexes), the writer, lineage queries."""
