"""Errors the files services raise on purpose; each maps to one HTTP status."""

from __future__ import annotations

from core.errors import Conflict, NotFound, ServiceError


class UploadInvalid(ServiceError):
    """The upload is malformed: no usable name, no content."""

    code = "upload_invalid"
    http_status = 400


class FileNameInvalid(UploadInvalid):
    code = "file_name_invalid"


class FileTooLarge(ServiceError):
    code = "file_too_large"
    http_status = 413


class FileTypeNotAllowed(ServiceError):
    code = "file_type_not_allowed"
    http_status = 415


class StorageUnavailable(ServiceError):
    """Storage did not answer or refused; nothing was kept. Worth retrying later."""

    code = "storage_unavailable"
    http_status = 503


class FileListInvalid(ServiceError):
    """A filter or cursor of the file list that cannot be served: said, never an empty list."""

    code = "invalid_input"
    http_status = 400


class FileInUse(Conflict):
    """The file is an input or output of a run that has not finished: its worker needs it."""

    code = "file_in_use"


class DirectUploadUnavailable(ServiceError):
    """Files are stored on this server's disk: there is no storage to upload to directly."""

    code = "direct_upload_unavailable"
    http_status = 400


class UploadNotFound(NotFound):
    """No such upload id for this caller (never "forbidden": no hint that another user's exists)."""

    code = "upload_not_found"


class UploadUsed(Conflict):
    """The upload id already started a run (with another Idempotency-Key)."""

    code = "upload_used"


class UploadExpired(ServiceError):
    code = "upload_expired"
    http_status = 410


class UploadMissing(Conflict):
    """Nothing arrived in storage for the upload id: the reservation is released."""

    code = "upload_missing"


class UploadMismatch(ServiceError):
    """What arrived is not what was reserved (its size): refused, deleted, released."""

    code = "upload_mismatch"
    http_status = 400
