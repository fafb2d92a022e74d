"""Process launch under the guard: what servers and every other child loadbench runs share.

`guard` is the stdlib-only parent that makes sure no child tree outlives loadbench.
"""
