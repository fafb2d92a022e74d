"""Results: the trial records, their JSON codec, the results file on disk, and the machine they came from.

Everything after a run reads only what this package writes, so measuring and presenting never need each
other. `records` holds the header and `TrialResult` types and their builders, `file` appends and reads
results.jsonl, `codec` is the dataclass <-> JSON mapping, `env` captures the machine once per run, and
`metrics` the latency histogram and the backend-neutral `Recording` every load engine returns.
"""
