"""Files attached to records: adding them (one journaled write and one conditional record write
for every way in), file indices, publishing a record with its files, what a download serves,
orphans and fixity. Bytes themselves are :mod:`openhep.storage`'s."""

from openhep.files._attach import AddedFile
from openhep.files._fixity import FixityProblem, FixityReport
from openhep.files._indices import (
    ExpandedIndex,
    FileIndexError,
    FileIndexResult,
    add_file_index,
    expand_file_indices,
    files_under,
    index_json,
    index_txt,
    parse_index_json,
)
from openhep.files._journal import DEFAULT_GRACE_SECONDS
from openhep.files._orphans import Orphan
from openhep.files._publish import PublishResult, publish_record
from openhep.files._service import (
    AddResult,
    Availability,
    ChecksumMismatchError,
    CorruptFileError,
    FileKeyError,
    FileNotServedError,
    FileService,
    RemoteFile,
    ServedFile,
    UnpublishedPathError,
)

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "AddResult",
    "AddedFile",
    "Availability",
    "ChecksumMismatchError",
    "CorruptFileError",
    "ExpandedIndex",
    "FileIndexError",
    "FileIndexResult",
    "FileKeyError",
    "FileNotServedError",
    "FileService",
    "FixityProblem",
    "FixityReport",
    "Orphan",
    "PublishResult",
    "RemoteFile",
    "ServedFile",
    "UnpublishedPathError",
    "add_file_index",
    "expand_file_indices",
    "files_under",
    "index_json",
    "index_txt",
    "parse_index_json",
    "publish_record",
]
