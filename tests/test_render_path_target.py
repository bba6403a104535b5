"""Path-target rules: the table a file's final bare SELECT writes, from its path."""

from __future__ import annotations

import re

import pytest

from lineaged.render.path_target import PathTargetRule, TargetRuleError

BQ_PATTERN = r"^(?P<project>[^/]+)/(?P<dataset>[^/]+)/(?P<table>[^/]+)/query\.sql$"


def test_segments_name_the_target() -> None:
    rule = PathTargetRule.build("{1}.{2}.{3}")
    assert rule.target_for("moz-fx-data/telemetry_derived/clients_v6/query.sql") == (
        "moz-fx-data.telemetry_derived.clients_v6"
    )


def test_negative_segments_and_stem() -> None:
    rule = PathTargetRule.build("{-2}.{stem}")
    assert rule.target_for("models/marts/orders.sql") == "marts.orders"


def test_too_few_segments_means_no_target() -> None:
    assert PathTargetRule.build("{1}.{2}.{3}").target_for("x/query.sql") is None


def test_pattern_groups_name_the_target_and_a_miss_means_none() -> None:
    rule = PathTargetRule.build("{project}.{dataset}.{table}", BQ_PATTERN)
    assert rule.target_for("p/ds/t_v1/query.sql") == "p.ds.t_v1"
    assert rule.target_for("p/ds/t_v1/init.sql") is None
    assert rule.target_for("p/ds/query.sql") is None


def test_numbered_groups_of_a_pattern() -> None:
    rule = PathTargetRule.build("{1}.{2}", r"^([^/]+)/([^/]+)\.sql$")
    assert rule.target_for("sales/orders.sql") == "sales.orders"


@pytest.mark.parametrize(
    ("template", "pattern", "message"),
    [
        ("{project}.{table}", "", "unknown placeholder {project}"),
        ("{1}.{x}", r"(?P<y>.*)", "unknown placeholder {x}"),
        ("{3}", r"^(a)/(b)$", "unknown placeholder {3}"),
        ("{1", "", "unbalanced braces"),
        ("{1}", "(", "invalid regex"),
    ],
)
def test_malformed_rules_are_rejected(template: str, pattern: str, message: str) -> None:
    with pytest.raises(TargetRuleError, match=re.escape(message)):
        PathTargetRule.build(template, pattern)


@pytest.mark.parametrize(
    ("options", "renders"),
    [({}, False), ({"target": "{-2}.{stem}"}, True), ({"template": "jinja"}, True)],
)
def test_renders_nothing_means_no_version_suffix(tmp_path, options, renders) -> None:
    """The warm restart compares one version for a whole root when `renders_nothing`."""
    from lineaged.config import RootSettings
    from lineaged.pipeline import RootContext

    render = RootContext(RootSettings("r", tmp_path, **options)).render
    assert render.renders_nothing is not renders
    assert (render.version_suffix("models/marts/orders.sql") != "") is renders
