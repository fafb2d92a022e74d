"""The native backend: loadbench's own asyncio HTTP/1.1 engine (closed loop, open loop, stages).

`aio` is the Protocol client, `run` the shared run state and open-loop scheduler, `http1` request
encoding and response framing, `phases` warm-up / measure / drain, `recorder` the hot-path sink,
`procs` several engine processes, `pacing` the pure arrival schedules.
"""
