"""A storage that behaves like a full disk: the write starts, part of the file lands, then the
OS says ENOSPC (what FileSystemStorage does on a real full volume). Selected through
settings.STORAGES in the disk-full test; no tmpfs or root needed."""

from __future__ import annotations

import errno
import os
from typing import Any

from django.core.files.storage import FileSystemStorage


class FullDiskStorage(FileSystemStorage):
    def _save(self, name: str, content: Any) -> str:
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as partial:
            partial.write(content.read(max(1, content.size // 2)))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
