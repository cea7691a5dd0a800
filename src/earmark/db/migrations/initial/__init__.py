"""The tables of migration 0001, one module per logical database (imported by the migration)."""
