"""Our own state beyond the tables: the ClientToken ledger, the operations log, background jobs and
the operators' maintenance.
"""
