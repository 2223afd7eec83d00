"""Origin rules (``OPENHEP_FILE_ORIGINS``): parsed with messages that say what to change, and
turning a record file's URI into the http(s) address of the same bytes."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openhep.settings import Settings
from openhep.storage import DEFAULT_ORIGINS, OriginRules, OriginRulesError, store_path

EOS = "root://eospublic.cern.ch//eos/opendata/"
CODP = "https://opendata.cern.ch/eos/opendata/"


def test_the_default_is_codps_https_gateway_as_cernopendata_client_uses_it() -> None:
    rules = OriginRules.parse(None)
    assert rules.rules == DEFAULT_ORIGINS
    # cernopendata-client 1.0.2 (searcher.get_file_info_remote) replaces SERVER_ROOT_URI,
    # root://eospublic.cern.ch/, by SERVER_HTTPS_URI, https://opendata.cern.ch: the same file.
    from cernopendata_client.config import SERVER_HTTPS_URI, SERVER_ROOT_URI

    uri = EOS + "cms/Run2012B/DoubleMuParked/AOD/22Jan2013-v1/20000/0A8BD6BA.root"
    client_url = uri.replace(SERVER_ROOT_URI, SERVER_HTTPS_URI)  # https://opendata.cern.ch//eos/…
    # The same address with one slash, as CODP's own records link its files.
    assert rules.url_of(uri) == client_url.replace(".ch//eos/", ".ch/eos/")
    assert rules.url_of(uri) == CODP + uri.removeprefix(EOS)
    # Files uploaded here live under .../openhep/: no origin but this instance.
    assert rules.url_of(EOS + "openhep/990001/abc/x.root") is None
    assert rules.url_of("https://elsewhere.example/x.root") is None


def test_every_real_records_file_has_its_codp_address(codp_records: list[dict[str, Any]]) -> None:
    rules = OriginRules()
    uris = [f["uri"] for r in codp_records for f in r.get("files") or []]
    assert len(uris) > 10_000
    for uri in uris:
        assert rules.url_of(uri) == CODP + uri.removeprefix(EOS), uri


def test_settings_tell_unset_from_empty() -> None:
    assert Settings.from_env({}).file_origins is None
    assert Settings.from_env({"OPENHEP_FILE_ORIGINS": ""}).file_origins == ""
    assert OriginRules.parse("").rules == () == OriginRules.parse("  ").rules
    assert OriginRules.parse("").url_of(EOS + "cms/x.root") is None


def test_rules_per_prefix_longest_first_and_an_empty_origin_means_none() -> None:
    rules = OriginRules.parse(
        f"{EOS}=https://mirror.example/eos/opendata/, {EOS}cms/=http://127.0.0.1:8080/cms/,"
        f"{EOS}cms/private/="
    )
    assert rules.url_of(EOS + "atlas/a.root") == "https://mirror.example/eos/opendata/atlas/a.root"
    assert rules.url_of(EOS + "cms/a.root") == "http://127.0.0.1:8080/cms/a.root"
    assert rules.url_of(EOS + "cms/private/a.root") is None
    # root://host/ + /eos/x: the rest's leading slashes are the URI's, not the path's.
    short = OriginRules.parse("root://eospublic.cern.ch/=https://opendata.cern.ch/")
    assert short.url_of(EOS + "cms/a.root") == CODP + "cms/a.root"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-equals-sign", "is not 'uri-prefix=https-base'"),
        ("=https://a.example/", "is not 'uri-prefix=https-base'"),
        ("root://a b/=https://a.example/", "is not 'uri-prefix=https-base'"),
        (f"{EOS}=ftp://a.example/", "http:// or https:// URL with a host"),
        (f"{EOS}=root://a.example//eos/", "http:// or https:// URL with a host"),
        (f"{EOS}=https:///eos/", "http:// or https:// URL with a host"),
        (f"{EOS}=/eos/opendata/", "http:// or https:// URL with a host"),
        (f"{EOS}=https://user:secret@a.example/", "credentials"),
        (f"{EOS}=https://a.example/?token=1/", "query"),
        (f"{EOS}=https://a.example/#x/", "query"),
        (f"{EOS}=https://a.example/eos", "end the origin with '/'"),
        (f"{EOS}=https://a.example/,{EOS}=https://b.example/", "given twice"),
    ],
)
def test_bad_rules_are_refused_with_what_to_change(value: str, message: str) -> None:
    with pytest.raises(OriginRulesError, match="OPENHEP_FILE_ORIGINS") as raised:
        OriginRules.parse(value)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "rest", ["../../etc/passwd", "cms/../../x", "cms//x.root", "cms/./x", "cms/x\x00.root", ""]
)
def test_a_uri_whose_rest_is_no_plain_path_has_no_origin(rest: str) -> None:
    assert OriginRules().url_of(EOS + rest) is None


@given(st.text(min_size=1, max_size=300))
def test_an_origin_url_names_exactly_the_uris_file(rest: str) -> None:
    url = OriginRules().url_of(EOS + rest)
    try:
        expected = store_path(rest.lstrip("/"))
    except ValueError:
        assert url is None
        return
    assert url is not None and url.startswith(CODP)
    tail = url.removeprefix(CODP)
    # Only characters a URL path carries as they are; everything else percent-encoded, so the
    # address decodes to the very path (no ?query, #fragment, space or raw %).
    assert all(c.isascii() and c.isprintable() and c not in ' ?#"<>\\^`{|}' for c in tail)
    assert unquote(tail, errors="strict") == expected
    assert urlsplit(url).path == "/eos/opendata/" + tail
