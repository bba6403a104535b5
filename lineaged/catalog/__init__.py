"""Corpus-wide schema: the columns of every table the watched SQL defines, and the
fixpoint that keeps extraction results consistent with it (see catalog.py)."""

from lineaged.catalog.catalog import Catalog, Conflict, FileRecord, table_fingerprint

__all__ = ["Catalog", "Conflict", "FileRecord", "table_fingerprint"]
