"""An instance for the analysis tests (importable as ``_services.analysis``): the real
``openhep demo`` over one CODP record and the sample files (records 990001 to 990010, held here),
plus records the tests need and real data does not have:

* :data:`EMBARGOED`: the Z→μμ ROOT file in a record released in 2999 (not public);
* :data:`HOSTILE`: the Z→μμ CSV in a record whose title and ``dataset_semantics`` hold markup
  and script (attacks are ours by necessity; the bytes are the real CSV);
* :data:`MANY`: :data:`MANY_FILES` copies of the DoubleMuParked sample in one record, a job of
  that many chunks at least (what a cancelled stream stops partway through).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from _services.serve import record_fields, sample_home
from openhep.services import Curator
from openhep.settings import Settings

ZMUMU_ROOT = "990004"
ZMUMU_CSV = "990010"
HZZ = "990005"
DOUBLEMU = "990001"
NANO_DIMUON = "990007"
ISPY = "990008"  # a record with no ROOT or CSV file
EMBARGOED = "990600"
HOSTILE = "990601"
MANY = "990602"
MANY_FILES = 24
DOUBLEMU_FILE = "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
#: A title and variables that would run script if a page took them for markup.
HOSTILE_TITLE = "Muons </title><script>alert('title')</script> & <b>bold</b>"
HOSTILE_VARIABLE = "M\"><script>alert('variable')</script>"
HOSTILE_DESCRIPTION = "<img src=x onerror=alert('description')> the mass"
HOSTILE_KEY = 'Zmumu_"><b>2010.csv'

_COMMON = record_fields("A record of the analysis tests.")


def build_analysis_home(base: Path, codp_dir: Path, anchors: Path) -> Path:
    """The instance described above, under ``base/home``."""
    home = sample_home(base, codp_dir, anchors)
    samples = anchors / "cms-samples"
    copies = base / "copies"
    copies.mkdir()
    many: list[tuple[str, Path]] = []
    for i in range(MANY_FILES):
        # Each copy its own bytes' checksum would be the same: the keys tell them apart.
        target = copies / f"doublemu_{i:02d}.root"
        shutil.copy(samples / DOUBLEMU_FILE, target)
        many.append((target.name, target))
    with Curator(Settings(home=home)) as curator:
        curator.publish(
            {**_COMMON, "recid": EMBARGOED, "title": "Embargoed Z to two muons",
             "release_date": "2999-01-01"},
            [("uproot-Zmumu.root", samples / "uproot-Zmumu.root")],
        )  # fmt: skip
        curator.publish(
            {
                **_COMMON,
                "recid": HOSTILE,
                "title": HOSTILE_TITLE,
                "dataset_semantics": [
                    {"variable": HOSTILE_VARIABLE, "description": HOSTILE_DESCRIPTION},
                    {"variable": "M", "description": "The <i>dimuon</i> mass.", "unit": "GeV"},
                ],
            },
            [(HOSTILE_KEY, samples / "Zmumu_2010.csv")],
        )
        curator.publish(
            {**_COMMON, "recid": MANY, "title": "Many copies of the DoubleMuParked sample"},
            many,
        )
    return home
