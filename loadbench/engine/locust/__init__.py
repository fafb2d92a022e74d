"""The Locust engine backend: Locust runs as subprocesses; nothing here imports locust or gevent.

backend.py (LocustBackend), command.py (command lines, load shape), generate.py (the like-for-like
locustfile), readback.py (the harness JSON and Locust's stderr), convert.py (JSON → Recordings) and
_loadbench_harness.py, the Locust plugin loaded by path inside the locust process.
"""
