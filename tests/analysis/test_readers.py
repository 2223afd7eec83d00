"""Readers over the real samples: columns, chunks of only the branches asked, and files that
cannot be read (an AnalysisError that names the problem, never a traceback)."""

from __future__ import annotations

import itertools
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _analysis import (
    DOUBLEMU_RNTUPLE,
    MUON_FIELDS,
    NANO_DIMUON,
    TTBAR,
    TTBAR_RNTUPLE,
    ZMUMU,
    ZMUMU_COLUMNS,
)
from openhep.analysis import AnalysisError, Column, open_source
from openhep.analysis._readers import (
    DEFAULT_CHUNK_ENTRIES,
    MIN_CHUNK_ENTRIES,
    Chunk,
    Source,
    chunk_target,
    plan_chunks,
    read_chunk,
)


def test_nanoaod_ttree_columns(samples: Path) -> None:
    source = open_source(str(samples / NANO_DIMUON))
    assert source.kind == "ttree"
    assert source.num_entries == 40
    assert source.columns["nMuon"] == Column("nMuon", False, "int")
    assert source.columns["Muon_pt"] == Column("Muon_pt", True, "float")
    assert source.columns["Muon_charge"] == Column("Muon_charge", True, "int")
    assert source.columns["HLT_IsoMu24"] == Column("HLT_IsoMu24", False, "bool")
    assert source.columns["run"] == Column("run", False, "int")
    with uproot.open(samples / NANO_DIMUON) as f:
        typenames = f["Events"].typenames()
    # Every branch of real NanoAOD is numbers or booleans, one or an array per event: every
    # one is a column, a list per event exactly when uproot types it as an array.
    assert len(typenames) > 1500
    assert set(source.columns) == set(typenames)
    for name, typename in typenames.items():
        assert source.columns[name].jagged == typename.endswith("[]"), (name, typename)


def test_rntuple_columns_match_the_ttree_of_the_same_events(
    samples: Path, doublemu_ttree: Path
) -> None:
    rntuple = open_source(str(samples / DOUBLEMU_RNTUPLE))
    ttree = open_source(str(doublemu_ttree))
    assert (rntuple.kind, ttree.kind) == ("rntuple", "ttree")
    assert rntuple.num_entries == ttree.num_entries == 1000
    wanted = ["nMuon", *(f"Muon_{f}" for f in MUON_FIELDS)]
    for name in wanted:
        assert rntuple.columns[name].jagged == ttree.columns[name].jagged, name
    chunk_r = plan_chunks(rntuple)
    chunk_t = plan_chunks(ttree)
    a = ak.concatenate([read_chunk(c, wanted) for c in chunk_r])
    b = ak.concatenate([read_chunk(c, wanted) for c in chunk_t])
    assert a.fields == b.fields == sorted(wanted)
    for name in wanted:
        assert ak.all(a[name] == b[name]), name


def test_chunks_read_only_the_branches_asked_and_join_to_the_whole_file(samples: Path) -> None:
    source = open_source(str(samples / NANO_DIMUON))
    chunks = plan_chunks(source, chunk_entries=7)
    assert [c.entries for c in chunks] == [7, 7, 7, 7, 7, 5]
    assert chunks[0].entry_start == 0 and chunks[-1].entry_stop == 40
    parts = [read_chunk(c, ["Muon_pt", "nMuon"]) for c in chunks]
    assert all(p.fields == ["Muon_pt", "nMuon"] for p in parts)
    with uproot.open(samples / NANO_DIMUON) as f:
        whole = f["Events"].arrays(["Muon_pt", "nMuon"])
    joined = ak.concatenate(parts)
    assert ak.to_list(joined) == ak.to_list(whole)


def test_default_chunks_follow_clusters_and_cover_every_entry(doublemu_ttree: Path) -> None:
    source = open_source(str(doublemu_ttree))
    assert {400, 800} <= set(source.boundaries)
    assert _ranges(plan_chunks(source)) == [(0, 1000)]
    # Two chunks of about 500: the cut moves to the cluster boundary at 400.
    assert _ranges(plan_chunks(source, target=500)) == [(0, 400), (400, 1000)]
    # Three of about 333: 400 is near enough to 333, 800 too far from 667.
    assert _ranges(plan_chunks(source, target=333)) == [(0, 400), (400, 667), (667, 1000)]


def _ranges(chunks: list[Chunk]) -> list[tuple[int, int]]:
    assert all(a.entry_stop == b.entry_start for a, b in itertools.pairwise(chunks))
    return [(c.entry_start, c.entry_stop) for c in chunks]


def test_chunks_are_balanced_for_the_workers() -> None:
    assert chunk_target(2_000_000, 2) == 250_000  # four chunks per worker
    assert chunk_target(1000, 2) == MIN_CHUNK_ENTRIES
    assert chunk_target(10**9, 2) == DEFAULT_CHUNK_ENTRIES
    # NanoAOD-like clusters of 10,000 entries: eight chunks of 250,000, cut on clusters.
    clusters = tuple(range(0, 2_000_000, 10_000))
    source = Source("x.root", "ttree", "Events", 2_000_000, {}, clusters)
    ranges = _ranges(plan_chunks(source, target=250_000))
    assert ranges == [(k * 250_000, (k + 1) * 250_000) for k in range(8)]
    # Clusters of 300,000: cuts on them when near, else exactly where balance puts them.
    coarse = Source("x.root", "ttree", "Events", 1_000_000, {}, (0, 300_000, 600_000, 900_000))
    assert _ranges(plan_chunks(coarse, target=250_000)) == [
        (0, 300_000), (300_000, 500_000), (500_000, 750_000), (750_000, 1_000_000)
    ]  # fmt: skip


def test_no_branches_asked_gives_the_events_and_nothing_else(samples: Path) -> None:
    source = open_source(str(samples / NANO_DIMUON))
    (chunk,) = plan_chunks(source)
    arrays = read_chunk(chunk, [])
    assert len(arrays) == 40 and arrays.fields == []


def test_csv_columns_are_typed_and_read_in_row_chunks(samples: Path, zmumu_csv: Path) -> None:
    source = open_source(str(zmumu_csv), tree="ignored for CSV")
    assert source.kind == "csv"
    assert source.num_entries == 2304
    assert source.columns["M"] == Column("M", False, "float")
    assert source.columns["Q1"] == Column("Q1", False, "int")
    assert source.columns["Run"] == Column("Run", False, "int")
    assert "Type" not in source.columns  # text: not a number the expressions can use
    assert set(source.columns) == set(ZMUMU_COLUMNS) - {"Type"}
    chunks = plan_chunks(source, chunk_entries=1000)
    assert [c.entries for c in chunks] == [1000, 1000, 304]
    m = np.concatenate([np.asarray(read_chunk(c, ["M"])["M"]) for c in chunks])
    with uproot.open(samples / ZMUMU) as f:
        expected = f["events"]["M"].array(library="np")
    assert np.array_equal(m, expected)  # bit for bit


def test_csv_empty_cells_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("a,b\n1.5,2\n,3\n2.5,\n")
    source = open_source(str(path))
    (chunk,) = plan_chunks(source)
    arrays = read_chunk(chunk, ["a", "b"])
    assert ak.to_list(arrays["a"]) == [1.5, None, 2.5]
    assert ak.to_list(arrays["b"]) == [2, 3, None]


def test_unknown_tree_lists_the_trees(samples: Path) -> None:
    with pytest.raises(AnalysisError) as caught:
        open_source(str(samples / NANO_DIMUON), tree="events")
    message = caught.value.message
    assert "no tree 'events'" in message
    assert "'Events'" in message and "'Runs'" in message
    assert str(samples) not in message  # the message does not reveal where files are kept


def test_an_object_that_is_not_a_tree(samples: Path, tmp_path: Path) -> None:
    with uproot.open(samples / NANO_DIMUON) as f:
        nmuon = f["Events"]["nMuon"].array(library="np")
    path = tmp_path / "with_histogram.root"
    with uproot.recreate(path) as out:
        out["nMuon_histogram"] = np.histogram(nmuon, bins=5, range=(0, 5))
        out["Events"] = {"nMuon": nmuon}
    with pytest.raises(AnalysisError, match="not a TTree or an RNTuple"):
        open_source(str(path), tree="nMuon_histogram")
    assert open_source(str(path)).num_entries == 40


@pytest.mark.parametrize(
    ("content", "name", "says"),
    [
        (b"this is not ROOT at all" * 10, "fake.root", "not a readable ROOT file"),
        (b"", "empty.root", "not a readable ROOT file"),
        (None, "missing.root", "no such file"),
        (None, "missing.csv", "no such file"),
        (b"x,y\n1,2\n", "table.txt", "only ROOT (.root) and CSV (.csv)"),
        (b"a,b\n1,2,3\n", "ragged.csv", "not a readable CSV table"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, name: str, says: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AnalysisError) as caught:
        open_source(str(path))
    assert says in caught.value.message
    assert str(tmp_path) not in caught.value.message


def test_truncated_root_file(samples: Path, tmp_path: Path) -> None:
    data = (samples / NANO_DIMUON).read_bytes()
    for keep in (100, len(data) // 2):
        path = tmp_path / f"cut{keep}.root"
        path.write_bytes(data[:keep])
        with pytest.raises(AnalysisError):
            source = open_source(str(path))
            for chunk in plan_chunks(source):
                read_chunk(chunk, ["Muon_pt"])


@pytest.mark.parametrize(
    "location",
    [
        "",
        "s3://bucket/file.root",
        "ftp://host/file.root",
        "http:///nohost.root",
        "a\0b.root",
        "x" * 5000,
    ],
)
def test_locations_we_do_not_read(location: str) -> None:
    with pytest.raises(AnalysisError):
        open_source(location)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keep=st.floats(0.0, 0.999))
def test_a_truncated_file_gives_an_analysis_error_or_its_data(
    samples: Path, tmp_path: Path, keep: float
) -> None:
    data = (samples / NANO_DIMUON).read_bytes()
    path = tmp_path / "cut.root"
    path.write_bytes(data[: int(len(data) * keep)])
    try:
        source = open_source(str(path))
        parts = [read_chunk(chunk, ["Muon_pt", "nMuon"]) for chunk in plan_chunks(source)]
    except AnalysisError:
        return
    # What a cut file still gives (the part cut held nothing asked) is the file's data.
    with uproot.open(samples / NANO_DIMUON) as f:
        whole = f["Events"].arrays(["Muon_pt", "nMuon"])
    assert ak.to_list(ak.concatenate(parts)) == ak.to_list(whole)


def test_ttbar_nanoaod_as_ttree_and_as_rntuple(samples: Path) -> None:
    """The 2015 ttbar NanoAOD as a TTree (200 events) and 10 events of the same dataset
    converted by ROOT's RNTupleImporter (collections as _collectionN): the same 947 columns,
    read alike."""
    ttree = open_source(str(samples / TTBAR))
    rntuple = open_source(str(samples / TTBAR_RNTUPLE))
    assert len(ttree.columns) == 947
    assert {n: (c.jagged, c.kind) for n, c in rntuple.columns.items()} == {
        n: (c.jagged, c.kind) for n, c in ttree.columns.items()
    }
    wanted = ["nJet", "Jet_pt", "Jet_btagDeepB", "Muon_charge", "MET_pt", "HLT_IsoMu20"]
    (first,) = plan_chunks(rntuple)
    for arrays in (read_chunk(first, wanted), read_chunk(plan_chunks(ttree)[0], wanted)):
        assert arrays.fields == sorted(wanted)
        assert ak.all(ak.num(arrays["Jet_pt"]) == arrays["nJet"])
        assert str(ak.type(arrays["HLT_IsoMu20"])).endswith("bool")
