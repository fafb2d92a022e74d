"""The edges where untrusted things meet the outside: one writer, one escaper per medium, one table of limits.

    write.py   write_output / check_output: every file loadbench writes (reports, --json, JUnit, markdown)
    escape.py  one function per medium: markdown, XML (JUnit), terminal, rich markup, chart labels, CSV
    limits.py  every bound on what a user may ask for, and the one-line refusal that names it

This package sits just above `loadbench.errors` in the layer contract, so every stage (scenario validation,
the engine, results, reports, the gate, the CLI) uses the same writer, escapers and limits, and later
outputs (new report formats, exports, flame graphs) join them by importing from here.
"""
