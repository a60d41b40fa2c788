"""The SQL engine of search: index writes, query building, paging.  The only part of the
search layer that talks to the database (SQLAlchemy Core over the storage tables)."""
