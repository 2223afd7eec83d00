"""Files behind records: one store interface (local directory, XRootD), checksums, fixity."""

from openhep.storage._checksum import Digester, Digests, digest_chunks
from openhep.storage._indices import (
    ExpandedIndex,
    FileIndexError,
    FileIndexResult,
    add_file_index,
    expand_file_indices,
    index_json,
    index_txt,
    parse_index_json,
)
from openhep.storage._journal import DEFAULT_GRACE_SECONDS
from openhep.storage._open import open_store
from openhep.storage._origins import DEFAULT_ORIGINS, OriginRules, OriginRulesError
from openhep.storage._orphans import Orphan
from openhep.storage._paths import (
    DEFAULT_PREFIXES,
    PrefixRules,
    UnsafePathError,
    file_name,
    store_path,
)
from openhep.storage._publish import PublishResult, publish_record
from openhep.storage._service import (
    AddedFile,
    AddResult,
    Availability,
    ChecksumMismatchError,
    CorruptFileError,
    FileKeyError,
    FileNotServedError,
    FileService,
    FixityProblem,
    FixityReport,
    RemoteFile,
    ServedFile,
)
from openhep.storage._store import (
    CHUNK_SIZE,
    FileTooLargeError,
    LocalStore,
    Store,
    StoredObject,
    StoreUnavailableError,
    read_chunks,
)

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_GRACE_SECONDS",
    "DEFAULT_ORIGINS",
    "DEFAULT_PREFIXES",
    "AddResult",
    "AddedFile",
    "Availability",
    "ChecksumMismatchError",
    "CorruptFileError",
    "Digester",
    "Digests",
    "ExpandedIndex",
    "FileIndexError",
    "FileIndexResult",
    "FileKeyError",
    "FileNotServedError",
    "FileService",
    "FileTooLargeError",
    "FixityProblem",
    "FixityReport",
    "LocalStore",
    "OriginRules",
    "OriginRulesError",
    "Orphan",
    "PrefixRules",
    "PublishResult",
    "RemoteFile",
    "ServedFile",
    "Store",
    "StoreUnavailableError",
    "StoredObject",
    "UnsafePathError",
    "add_file_index",
    "digest_chunks",
    "expand_file_indices",
    "file_name",
    "index_json",
    "index_txt",
    "open_store",
    "parse_index_json",
    "publish_record",
    "read_chunks",
    "store_path",
]
