"""Alembic revisions of the accounts schema (one file each, applied in order by ``openbg db upgrade``)."""
