"""
The migration engine behind `backscroll.migrate`: engine, checkpoint, report, shards.

Everything public is re-exported from `backscroll`; these modules are private.
"""
