"""Access to the OpenVZ node: spawning vzctl/vzlist (`process`) and reading what they report
(`observe`, with the one `CTID.conf` parser `vzconf`).

Kept empty on purpose: every simulated vzctl/vzlist process (`python -IS`) imports
`reconciler.node.vzconf`, so importing this package must cost nothing (no pydantic, yaml, git).
"""
