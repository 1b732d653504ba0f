"""The hub's database: SQLAlchemy Core over SQLite (default) or PostgreSQL."""
