"""OpenHEP's benchmarks: each one a module run as ``python -m bench.<name>`` from the
repository's root, sharing the servers, load generator, meters and result recording of
:mod:`bench.harness`; each prints one JSON line and appends it to
``bench/results/<name>.jsonl`` (docs/performance.md)."""
