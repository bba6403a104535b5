from sqlglot.dialects.dialect import Dialects

from lineaged.config import KNOWN_DIALECTS
from lineaged.dialect_names import SQLGLOT_DIALECTS
from lineaged.extract import known_dialects


def test_the_static_list_is_sqlglots():
    # A sqlglot upgrade that adds or drops a dialect fails here, not in a user's config.
    assert {d.value for d in Dialects if d.value} == SQLGLOT_DIALECTS


def test_config_and_extract_accept_the_same_names():
    assert KNOWN_DIALECTS == SQLGLOT_DIALECTS
    assert known_dialects() == tuple(sorted(SQLGLOT_DIALECTS))
