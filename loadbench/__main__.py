"""`python -m loadbench` runs the command-line interface."""

from __future__ import annotations

if __name__ == "__main__":
    import signal
    import sys

    # An ignored SIGINT (a shell's background job) is heard from here, before the CLI's imports, so an
    # interrupt in the first tens of milliseconds is not lost (see loadbench.cli._hear_sigint).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from loadbench.cli import main
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)  # ExitCode.INTERRUPTED, not imported: the interrupt came while importing
    main()
