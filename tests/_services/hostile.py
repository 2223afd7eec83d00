"""What an attacker uploads or ingests to run script on the portal's origin (importable from any
test module as ``_services.hostile``): records with hostile titles and files holding script.

The attack inputs are ours by necessity (no real record attacks the portal); the instance they
go into is built from a real CODP record and real CMS bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _services.serve import run_openhep

#: Titles that broke out of the JSON-LD script element, each with its recid. ``<!--<script>``
#: puts HTML's tokenizer into the "double escaped" script state, in which ``</script>`` no
#: longer ends the element: the rest of the page became script text.
HOSTILE_TITLES = {
    "990201": "Swallow <!--<script> test",
    "990202": "Break </script><script>alert('title')</script> out",
    "990203": "Open <!-- comment & never close it",
    "990204": "Line\u2028separator\u2029paragraph <b>&amp;</b> > end",
}

#: Files that run script when a browser opens them as a document, by key. The ``.xml`` one is
#: XHTML: a browser given ``application/xml`` renders it, and runs its script, as a page.
SCRIPTED_FILES = {
    "page.xml": (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
        b"<body><p>data</p><script>alert(document.domain)</script></body></html>\n"
    ),
    "page.html": b"<!doctype html><title>x</title><script>alert(document.domain)</script>\n",
    "image.svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(document.domain)</script><rect width="10" height="10"/></svg>\n'
    ),
    # Served as text: shown as the characters it holds, never run.
    "notes.txt": b"<script>alert(document.domain)</script>\n",
}

RECORDS_FILE = "cms-derived-nanoaod-outreach-DoubleMuParked.json"
#: A real CODP record of RECORDS_FILE, to which the tests add files.
PARENT = "12341"


def hostile_record(recid: str, title: str) -> dict[str, Any]:
    """A minimal valid record titled ``title``."""
    return {
        "recid": recid,
        "title": title,
        "type": {"primary": "Dataset", "secondary": ["Derived"]},
        "experiment": ["CMS"],
        "date_published": "2020",
        "publisher": "Test",
        "abstract": {"description": f"<p>{title}</p>"},
    }


def hostile_home(root: Path, codp_dir: Path) -> tuple[Path, str]:
    """A data directory holding RECORDS_FILE's real records and the hostile-title records, and
    a token that may add files: (home, token)."""
    home = root / "home"
    home.mkdir()
    run_openhep(home, "ingest", str(codp_dir / RECORDS_FILE))
    hostile = root / "hostile-titles.json"
    records = [hostile_record(recid, title) for recid, title in HOSTILE_TITLES.items()]
    hostile.write_text(json.dumps(records))
    run_openhep(home, "ingest", str(hostile))
    token = run_openhep(home, "token", "create", "--name", "attacker").stdout.strip()
    return home, token
