"""History timestamps: the fast parser gives dateutil's instant for the host's format, dateutil's answer otherwise."""
from __future__ import annotations

import datetime as dt
import importlib

import pytest
from dateutil.parser import parse as dateutil_parse
from hypothesis import given
from hypothesis import strategies as st

from wif_functions import timestamps
from wif_sandbox import hostjson

utc_times = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1))


def same(a: dt.datetime, b: dt.datetime) -> bool:
    """Same instant (or same naive time), same offset: dateutil may call UTC tzlocal() on a UTC machine."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b and a.utcoffset() == b.utcoffset()


@given(utc_times, st.sampled_from(["host", "dotnet", "seconds", "naive"]))
def test_the_hosts_formats_parse_as_dateutil_parses_them(when: dt.datetime, form: str) -> None:
    text = {"host": when.strftime(hostjson.FMT),  # this repo's local host
            "dotnet": when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "7Z",  # the extension: 7 fraction digits
            "seconds": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "naive": when.strftime("%Y-%m-%dT%H:%M:%S.%f")}[form]
    assert same(timestamps.parse(text), dateutil_parse(text))


@pytest.mark.parametrize("text", ["2026-12-01 19:21:58", "2026-12-01T19:21:58+02:00", "Dec 1 2026 7pm",
                                  "2026-12-01T19:21:58.5-05:30"])
def test_other_forms_are_dateutils_answer(text: str) -> None:
    assert same(timestamps.parse(text), dateutil_parse(text))


def test_impossible_dates_fail_as_they_do_in_dateutil() -> None:
    with pytest.raises(ValueError):
        dateutil_parse("2026-02-30T10:00:00Z")
    with pytest.raises(ValueError):
        timestamps.parse("2026-02-30T10:00:00Z")


def test_importing_the_app_gives_the_sdk_the_fast_parser() -> None:
    import function_app  # noqa: F401 - importing it installs the parser

    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    status = importlib.import_module("azure.durable_functions.models.DurableOrchestrationStatus")
    assert module.dt_parse is timestamps.parse and status.dt_parse is timestamps.parse
    assert timestamps.install()
    event = module.HistoryEvent(EventType=12, EventId=-1, IsPlayed=False, Timestamp="2026-12-01T19:21:58.1234567Z")
    assert event.timestamp == dt.datetime(2026, 12, 1, 19, 21, 58, 123456, tzinfo=dt.timezone.utc)
    read = status.DurableOrchestrationStatus.from_json({"createdTime": "2026-12-01T19:21:58.5Z"})
    assert read.created_time == dt.datetime(2026, 12, 1, 19, 21, 58, 500000, tzinfo=dt.timezone.utc)
