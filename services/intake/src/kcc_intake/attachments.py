"""Attachments kept: the content of what citizens send (and what we send back) in GridFS.

Events describe an attachment (name, type, size) and reference it by `attachment_id` and
`sha256`; the bytes stay here, in the `attachments` bucket of intake's database, each file
naming its contact in `metadata.contact_id` (indexed: listing, serving and erasure read by it).
Limits per attachment and per contact are checked before anything is stored."""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

BUCKET = "attachments"


class AttachmentTooLarge(ValueError):
    """An attachment, or a contact's attachments together, over the configured limit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Limits:
    per_attachment: int
    per_contact: int

    def check(self, uploads: list[Upload], *, field: str = "attachments") -> None:
        """Raise AttachmentTooLarge naming the first attachment (or the total) over its limit."""
        for i, upload in enumerate(uploads):
            if len(upload.content) > self.per_attachment:
                raise AttachmentTooLarge(
                    f"{field}[{i}]", f"{upload.filename} is {len(upload.content)} bytes, more than {self.per_attachment} per attachment"
                )
        total = sum(len(u.content) for u in uploads)
        if total > self.per_contact:
            raise AttachmentTooLarge(field, f"{total} bytes together, more than {self.per_contact} per contact")


class UndecodableAttachment(ValueError):
    """An uploaded file's content is not base64 (422 naming the field)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: not valid base64")
        self.field = field


def decode_uploads(uploads: list[Any], *, field: str = "attachments") -> list[Upload]:
    """The files of a JSON body (`filename`, `content_type`, `content_base64`)."""
    decoded = []
    for i, upload in enumerate(uploads):
        try:
            content = base64.b64decode(upload.content_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UndecodableAttachment(f"{field}[{i}].content_base64") from exc
        decoded.append(Upload(filename=upload.filename, content_type=upload.content_type, content=content))
    return decoded


def mail_uploads(msg: Any) -> list[Upload]:
    """The attachments of a parsed MIME message, with their content."""
    return [
        Upload(filename=part.get_filename() or "unnamed", content_type=part.get_content_type(), content=part.get_payload(decode=True) or b"")
        for part in msg.iter_attachments()
    ]


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def describe(doc: dict[str, Any]) -> dict[str, Any]:
    """The description events and the API give: what, how large, which id and checksum."""
    meta = doc.get("metadata") or {}
    return {
        "attachment_id": doc["_id"], "filename": doc["filename"], "content_type": meta.get("content_type", "application/octet-stream"),
        "size": doc["length"], "sha256": meta["sha256"],
    }


class AttachmentStore:
    """GridFS bucket `attachments` (collections `attachments.files`, `attachments.chunks`)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self._files = db[f"{BUCKET}.files"]
        self._chunks = db[f"{BUCKET}.chunks"]

    async def ensure_indexes(self) -> None:
        await self._files.create_index([("metadata.contact_id", ASCENDING)], name="contact_id")
        # The driver's own GridFS indexes, declared here too so a fresh database has them at start.
        await self._chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True, name="files_id_1_n_1")
        await self._files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1")
        await self._files.create_index([("uploadDate", ASCENDING)], name="retention")

    async def put(
        self, *, attachment_id: str, contact_id: str, upload: Upload, kind: str = "inbound", reply_id: str | None = None
    ) -> dict[str, Any]:
        """Store once under `attachment_id` (a repeat of the same message stores nothing new); its description."""
        existing = await self._files.find_one({"_id": attachment_id})
        if existing is None:
            metadata = {
                "contact_id": contact_id, "content_type": upload.content_type, "sha256": sha256_hex(upload.content),
                "kind": kind, "reply_id": reply_id,
            }
            try:
                await self._bucket.upload_from_stream_with_id(attachment_id, upload.filename, upload.content, metadata=metadata)
            except DuplicateKeyError:
                pass  # a concurrent repeat stored it first
            existing = await self._files.find_one({"_id": attachment_id})
        return describe(existing)

    async def of_contact(self, contact_id: str, *, kind: str | None = "inbound") -> list[dict[str, Any]]:
        query: dict[str, Any] = {"metadata.contact_id": contact_id}
        docs = [d async for d in self._files.find(query).sort("_id", ASCENDING)]
        return [describe(d) for d in docs if kind is None or (d.get("metadata") or {}).get("kind") == kind]

    async def get(self, *, contact_id: str, attachment_id: str) -> tuple[dict[str, Any], bytes] | None:
        """Description and bytes of one of the contact's attachments; None if it has no such one."""
        doc = await self._files.find_one({"_id": attachment_id, "metadata.contact_id": contact_id})
        if doc is None:
            return None
        try:
            stream = await self._bucket.open_download_stream(attachment_id)
        except NoFile:
            return None
        return describe(doc), await stream.read()

    async def purge(self, before: datetime) -> int:
        """Retention: delete the files stored before the cut-off (their contacts lose their content then too)."""
        ids = [d["_id"] async for d in self._files.find({"uploadDate": {"$lt": before}}, {"_id": 1})]
        for file_id in ids:
            try:
                await self._bucket.delete(file_id)
            except NoFile:
                pass
        return len(ids)

    async def erase(self, contact_ids: list[str]) -> int:
        """Delete every file (and its chunks) of these contacts; how many files."""
        if not contact_ids:
            return 0
        ids = [d["_id"] async for d in self._files.find({"metadata.contact_id": {"$in": sorted(set(contact_ids))}}, {"_id": 1})]
        for file_id in ids:
            try:
                await self._bucket.delete(file_id)
            except NoFile:
                pass  # erased by a concurrent run
        return len(ids)
