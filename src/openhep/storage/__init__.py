"""Bytes: one store interface (local directory, XRootD), checksums, and the store paths and
rules that map a record file's URI to one (or to its origin). No catalogue here: what attaches
files to records is :mod:`openhep.files`."""

from openhep.storage._checksum import Digester, Digests, adler32, digest_chunks
from openhep.storage._open import open_store
from openhep.storage._origins import DEFAULT_ORIGINS, OriginRules, OriginRulesError
from openhep.storage._paths import (
    ADDED_FILES_PREFIX,
    DEFAULT_PREFIXES,
    PrefixRules,
    UnsafePathError,
    file_name,
    store_path,
)
from openhep.storage._store import (
    CHUNK_SIZE,
    PARTIAL_DIR,
    FileTooLargeError,
    LocalStore,
    Store,
    StoredObject,
    StoreUnavailableError,
    partial_of,
    partial_stem,
    read_chunks,
)

__all__ = [
    "ADDED_FILES_PREFIX",
    "CHUNK_SIZE",
    "DEFAULT_ORIGINS",
    "DEFAULT_PREFIXES",
    "PARTIAL_DIR",
    "Digester",
    "Digests",
    "FileTooLargeError",
    "LocalStore",
    "OriginRules",
    "OriginRulesError",
    "PrefixRules",
    "Store",
    "StoreUnavailableError",
    "StoredObject",
    "UnsafePathError",
    "adler32",
    "digest_chunks",
    "file_name",
    "open_store",
    "partial_of",
    "partial_stem",
    "read_chunks",
    "store_path",
]
