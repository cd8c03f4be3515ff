"""The SQLite event log: schema, migrations, writes and queries."""
