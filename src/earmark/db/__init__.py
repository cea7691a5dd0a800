"""Earmark's databases: engines, tables, migrations and the named data functions per table group.

Handlers and services never build SQL; they call the functions of the table-group modules
(``accounts``, ``applications``, ``tracks``, ``fingerprints``, ...), each taking an explicit
connection.
"""
