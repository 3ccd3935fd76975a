"""
The machinery behind `backscroll.migrate` and `backscroll.formats.export_conversations`.

`pipeline` lists and reads conversations for both; `engine` writes them into a sink and a
`checkpoint`, `records` into a training file; `report` is what both return, `shards`
splits an account. Everything public is re-exported from `backscroll`; these modules are
private.
"""
