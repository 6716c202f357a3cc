"""Portable archives of a project or of one user: a versioned JSON Lines file (gzip optional).

- ``format``: the file format itself (lines in, lines out; no ORM).
- ``selectors``: the records of a project or user, read from the database, as archive lines.
- ``services``: an archive written into a project, all or nothing.
- ``mem0``: Mem0's exports (OSS ``get_all``, the OSS pgvector table, a Platform export) as archive records.

docs/MIGRATING.md describes the format and how to add a record kind.
"""
