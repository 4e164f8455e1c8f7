"""Page caches: the first pages of a list that is the same for every caller, as represented
(the JSON's `count` and `results`), kept in each server process for as long as the list's
version in the shared cache (Redis in production) is unchanged.

Why: the unfiltered posts list is what every visitor opens first, and building its page (the
page query on the database, 20 model instances, their representation) cost ~4x a bare view
(docs/bench.md, "The posts page cache"). Served from here a page costs one small GET of the version.

How it stays fresh: every write that changes what such a list shows calls `changed()` (the list's
owner names those writes: docs/learning.md, "The posts page cache"). `changed()` writes a new
random version to the shared cache twice: at once, and again after the transaction commits. A
reader reads the version before it reads the database and files what it built under the version
it read; so anything filed under the version written after a commit was read from the database
after that commit, and a reader that starts after the write's response has been sent sees that
version or a later one, never a page from before the write. The first write (inside the
transaction) serves readers of the same connection (tests, which never commit) and costs one more
rebuild otherwise. Versions are random, not counted, so a flushed or restarted Redis can never
hand out a version some process still holds pages of.

Where the version lives: in the shared cache, or, for a list given a `sequence` on PostgreSQL, in
that sequence (its migration creates it). A sequence's value changes outside transactions, at
once for every connection, as a cache key's does, so the argument above holds unchanged; and a
caller can read it in a statement it sends anyway (`version_expression()`, read where the posts
list loads its caller: learning.selectors.user_reading_posts), which saves the list's one cache
round trip per request (docs/bench.md, "Rendering a kept page once, the version with the
caller"). A sequence never goes back, so it too never hands out a version some process holds
pages of. The sequence is read as 0 until its first value, so the first change is seen.

What it does not cover: a write that bypasses the services (the admin, a shell, `bulk_create`)
is seen once an entry is MAX_AGE_SECONDS old; and when the shared cache is unreachable readers
build every page (no caching) and a write's `changed()` is lost (logged), so its pages too
may be served until they are MAX_AGE_SECONDS old (a version in the database has no such
failure of its own: without the database the write fails too).
"""

import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL

logger = logging.getLogger(__name__)

# The safety net for writes that do not call `changed()`: no entry is served older than this.
MAX_AGE_SECONDS = 10
# Pages kept per version and process, least recently used dropped: callers choose the page size,
# so without a bound the (page, size) pairs alone could keep ~25,000 posts per process.
MAX_ENTRIES = 32


class PageCache:
    """The represented first `pages` pages (any page size) of one list, per process."""

    def __init__(self, name: str, *, pages: int = 5, sequence: str | None = None):
        self.name = name
        self.pages = pages
        self.version_key = f"pagecache:{name}:version"
        self.sequence = sequence
        # (version, {key: (built at, value)}), replaced whole when the version moves, so a
        # reader files what it built under the version it read, whatever other threads do.
        self._state: tuple[str | None, OrderedDict] = (None, OrderedDict())
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<PageCache {self.name}>"

    def in_database(self) -> bool:
        """True when the version lives in the database (a PostgreSQL sequence), where a caller
        may read it with `version_expression()` and pass it to `get`."""
        return self.sequence is not None and connection.vendor == "postgresql"

    def version_expression(self) -> RawSQL:
        """The version, as a column of any query on the database (`in_database()` only)."""
        # The name is this process's own constant, never a caller's.
        sql = f'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM "{self.sequence}"'  # noqa: S608
        return RawSQL(sql, (), output_field=BigIntegerField())  # noqa: S611

    def _version(self):
        if self.in_database():
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT ({self.version_expression().sql})")
                return cursor.fetchone()[0]
        version = cache.get(self.version_key)
        if version is None:
            # First reader since a flush: whoever adds first decides; everyone reads that one.
            cache.add(self.version_key, secrets.token_hex(8), timeout=None)
            version = cache.get(self.version_key)
        return version

    def get(self, key, build, *, version=None):
        """The value filed under `key` for the list's current version, else `build()` filed.
        `version`: the version as the caller read it (`version_expression()`) before this call
        and before anything `build` reads; by default it is read here."""
        if version is None:
            try:
                version = self._version()
            except Exception:  # the shared cache being down must not fail a list: no caching
                logger.warning("page cache %s: shared cache unreachable", self.name, exc_info=True)
                return build()
        if version is None:  # evicted again at once (a cache without room): no caching
            return build()
        state = self._state
        if state[0] != version:
            with self._lock:
                state = self._state
                if state[0] != version:
                    state = self._state = (version, OrderedDict())
        now = time.monotonic()
        entries = state[1]
        entry = entries.get(key)
        if entry is not None and now - entry[0] < MAX_AGE_SECONDS:
            with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
                entries.move_to_end(key)
            return entry[1]
        value = build()
        with self._lock:
            entries[key] = (now, value)
            while len(entries) > MAX_ENTRIES:
                entries.popitem(last=False)
        return value

    def changed(self) -> None:
        """Called by every write that changes what the list shows, inside its transaction."""
        self._bump()
        transaction.on_commit(self._bump, robust=True)  # after the commit, nothing may fail the write

    def _bump(self) -> None:
        if self.in_database():
            # Not caught: inside the write's transaction a failure fails the write, as any of its
            # statements would (and a failed statement has aborted the transaction anyway).
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval(%s)", [self.sequence])
            return
        try:
            cache.set(self.version_key, secrets.token_hex(8), timeout=None)
        except Exception:
            logger.error("page cache %s: the version could not be changed", self.name, exc_info=True)

    def clear(self) -> None:
        """Forget this process's pages (the shared version stays)."""
        with self._lock:
            self._state = (None, OrderedDict())
