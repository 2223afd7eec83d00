"""Where another process reads a file held here: its path in the local store, its ``root://``
URL in the XRootD store — checked by reading the real Z→μμ sample there with the analysis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openhep.analysis import HistogramRequest, InlineExecutor, run_histogram
from openhep.catalog import Catalog
from openhep.files import FileService, ServedFile
from openhep.settings import Settings
from openhep.storage import Store, read_chunks


@pytest.fixture
def service(store: Store, tmp_path: Path) -> Iterator[FileService]:
    with Catalog.open(Settings(home=tmp_path / "home")) as catalog:
        yield FileService(catalog, store)


def test_a_file_held_here_is_read_where_the_store_keeps_it(
    service: FileService, anchors: Path
) -> None:
    sample = anchors / "cms-samples" / "uproot-Zmumu.root"
    path = "eos/opendata/openhep/990004/x/uproot-Zmumu.root"
    with sample.open("rb") as source:
        added = service.store_file(path, read_chunks(source), key=sample.name)
    stat = service.store.stat(path)
    assert stat is not None
    served = ServedFile(path, stat.size, added.digests.adler32, None, stat.mtime)
    location = service.location(served)
    if service.store.local_path(path) is None:
        assert location.startswith("root://") and location.endswith(f"/{path}")
    else:
        assert Path(location).read_bytes() == sample.read_bytes()
    request = HistogramRequest(expression="M", bins=60, range=(60.0, 120.0), tree="events")
    with InlineExecutor() as executor:
        result = run_histogram([location], request, executor=executor)
    assert result.events_read == 2304
    peak = result.counts.index(max(result.counts))
    assert abs((result.edges[peak] + result.edges[peak + 1]) / 2 - 91.19) <= 2
