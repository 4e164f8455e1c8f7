"""`make bench`: a bounded load test of the REST and WebSocket paths against a throwaway server.

Run `python -m bench --help` for the options; docs/bench.md explains what is measured.
"""
