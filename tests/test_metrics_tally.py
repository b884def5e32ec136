"""The cluster-counter Tally: the hash fields it writes, now that their names are cached.

Pure: no Redis. The fields are the documented ``[sample, {sorted labels}]`` JSON, so
the expectations below spell that format out rather than reuse the code under test.
"""

from __future__ import annotations

import json
import math

import pytest

from riskdrift.ops import metrics as m


def field(sample: str, **labels: str) -> str:
    return json.dumps([sample, dict(sorted(labels.items()))], separators=(",", ":"))


def expected_observation(
    family: m.Family, value: float, queue: str, **labels: str
) -> dict[str, float]:
    out = {
        field(family.name + "_bucket", queue=queue, **labels, le=le): 1.0 if value <= b else 0.0
        for b, le in [(b, repr(float(b))) for b in family.buckets] + [(math.inf, "+Inf")]
    }
    out[field(family.name + "_sum", queue=queue, **labels)] = value
    out[field(family.name + "_count", queue=queue, **labels)] = 1.0
    return out


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, 180.0, 1800.0, 5000.0, math.nan])
def test_observe_writes_every_bucket_sum_and_count(value: float) -> None:
    for _ in range(2):  # the second observation takes the cached names
        tally = m.Tally("q1")
        tally.observe(m.JOB_RUN_SECONDS, value, outcome="completed")
        got = dict(tally.increments)
        want = expected_observation(m.JOB_RUN_SECONDS, value, "q1", outcome="completed")
        assert got.keys() == want.keys()
        for name, amount in want.items():
            assert got[name] == amount or (math.isnan(got[name]) and math.isnan(amount)), name


def test_fields_differ_by_queue_and_labels_and_accumulate() -> None:
    tally = m.Tally("q1")
    tally.observe(m.WEBHOOK_DELIVERY_SECONDS, 0.2, outcome="delivered")
    tally.observe(m.WEBHOOK_DELIVERY_SECONDS, 0.3, outcome="delivered")
    tally.observe(m.WEBHOOK_DELIVERY_SECONDS, 0.3, outcome="failed")
    other = m.Tally("q2")
    other.observe(m.WEBHOOK_DELIVERY_SECONDS, 0.3, outcome="delivered")
    count = "riskdrift_webhook_delivery_seconds_count"
    assert tally.increments[field(count, queue="q1", outcome="delivered")] == 2
    assert tally.increments[field(count, queue="q1", outcome="failed")] == 1
    assert list(other.increments) == list(
        expected_observation(m.WEBHOOK_DELIVERY_SECONDS, 0.3, "q2", outcome="delivered")
    )

    tally.count(m.JOBS_COMPLETED)
    tally.count(m.JOBS_COMPLETED, 2)
    tally.count(m.JOBS_COMPLETED, 0)
    tally.count(m.EDGAR_CACHE_HITS, kind="document")
    assert tally.increments[field("riskdrift_jobs_completed_total", queue="q1")] == 3
    assert tally.increments[field("riskdrift_edgar_cache_hits_total", kind="document", queue="q1")]


def test_wrong_labels_are_refused_every_time() -> None:
    tally = m.Tally("q1")
    for _ in range(2):
        with pytest.raises(ValueError, match="takes labels"):
            tally.observe(m.JOB_RUN_SECONDS, 1.0)
        with pytest.raises(ValueError, match="takes labels"):
            tally.count(m.JOBS_COMPLETED, outcome="x")
    assert not tally.increments


def test_field_cache_is_bounded() -> None:
    tally = m.Tally("q1")
    for i in range(m.FIELD_CACHE_SIZE + 50):
        tally.count(m.WEBHOOK_DELIVERIES, outcome=f"o{i}")
    assert m._fields.cache_info().currsize <= m.FIELD_CACHE_SIZE
    assert len(tally.increments) == m.FIELD_CACHE_SIZE + 50
