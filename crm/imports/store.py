"""An import's file, kept in the database in 1 MiB chunks (any worker can read it)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from sqlalchemy import delete, select

from crm.extensions import db
from crm.imports.models import CHUNK, ImportChunk

SPOOL = 16 * 2**20  # files up to this size are read back in memory, larger ones on disk


def save(import_id: int, stream: BinaryIO) -> int:
    """Add the file's chunks to the current transaction (the stream is read from its
    start); returns its size in bytes."""
    stream.seek(0)
    seq = size = 0
    while True:
        data = stream.read(CHUNK)
        if not data:
            break
        chunk = ImportChunk(import_id=import_id, seq=seq, data=data)
        db.session.add(chunk)
        db.session.flush()
        db.session.expunge(chunk)  # one chunk in memory at a time
        seq += 1
        size += len(data)
    return size


@contextmanager
def opened(import_id: int) -> Iterator[BinaryIO]:
    """The file, read back chunk by chunk into a temporary file (in memory while small)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL) as out:
        query = select(ImportChunk.seq).where(ImportChunk.import_id == import_id)
        for seq in db.session.scalars(query.order_by(ImportChunk.seq)).all():
            out.write(
                db.session.scalar(
                    select(ImportChunk.data).where(
                        ImportChunk.import_id == import_id, ImportChunk.seq == seq
                    )
                )
            )
        out.seek(0)
        yield out  # type: ignore[misc]


def drop(import_id: int) -> None:
    """Delete the file's chunks (in the current transaction)."""
    db.session.execute(delete(ImportChunk).where(ImportChunk.import_id == import_id))
