"""`make bench`: load (not one user) on the REST and WebSocket paths of throwaway servers.

Run `python -m bench --help` for the options; docs/bench.md explains what is measured.
"""
