"""The suite's PostgreSQL backend: the shop's (core.postgresql), emptying the tables after a transactional
test with DELETE instead of TRUNCATE (docs/testing.md).

TRUNCATE gives every table and index new files, which costs about 0.5-1 s per test on the ~25 tables; the
few rows a test leaves are deleted in milliseconds. The same tables, in one transaction, with the foreign
keys (deferrable, as Django makes them) checked at its end. Resetting sequences still uses TRUNCATE.
"""

from django.db.backends.postgresql import operations

from core.postgresql import base


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('SET CONSTRAINTS ALL DEFERRED')};"] + [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
