"""Reading .ig files where the files are held: over HTTP range requests (a real nginx) and
over XRootD (a real xrootd server), the same events as from the local file."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from openhep.events import EventFileError, open_events

if TYPE_CHECKING:
    from _services.nginx import NginxServer
    from _services.xrootd import XRootDServer

NAME = "Hto4l_120-130GeV.ig"


@pytest.fixture(scope="module")
def nginx() -> Iterator[NginxServer]:
    from _services.nginx import NginxServer, NginxUnavailable

    server = NginxServer()
    try:
        server.start()
    except NginxUnavailable as exc:
        pytest.skip(str(exc))  # a failure under CI=true
    try:
        yield server
    finally:
        server.stop()


def same_events(location: str, local: Path) -> None:
    remote, here = open_events(location), open_events(str(local))
    try:
        assert len(remote) == len(here) == 11
        assert remote.ids(0, 11) == here.ids(0, 11)
        for index in (0, 5, 10):
            assert remote.event(index).to_json() == here.event(index).to_json()
    finally:
        remote.close()
        here.close()


@pytest.mark.nginx
def test_http_range_requests(nginx: NginxServer, anchors: Path) -> None:
    local = anchors / "ispy" / NAME
    same_events(nginx.add(local, NAME), local)


@pytest.mark.nginx
def test_http_errors(nginx: NginxServer, tmp_path: Path) -> None:
    with pytest.raises(EventFileError, match=r"/absent\.ig: no such file"):
        open_events(f"{nginx.url}/absent.ig")
    fake = tmp_path / "fake.ig"
    fake.write_bytes(b"<html>not a zip</html>" * 50)
    with pytest.raises(EventFileError, match=r"not a readable \.ig file"):
        open_events(nginx.add(fake))


@pytest.mark.xrootd
def test_xrootd(xrootd_server: XRootDServer, anchors: Path) -> None:
    local = anchors / "ispy" / NAME
    folder = xrootd_server.data_dir / f"events-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    shutil.copyfile(local, folder / NAME)
    (folder / NAME).chmod(0o644)
    same_events(f"{xrootd_server.url}//{folder.name}/{NAME}", local)
    with pytest.raises(EventFileError, match=r"no such file|cannot be read"):
        open_events(f"{xrootd_server.url}//{folder.name}/absent.ig")
