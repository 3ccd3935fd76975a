"""
backscroll's benchmarks: the SDK side by side with what a user would write or pick instead.

One module per benchmark, each with a ``run(...)`` that returns its rows, and `run` (the
runner: ``python -m benchmarks.run``, or ``nox -s bench``) that prints the table and draws
the plot. See docs/benchmarks.md for the method and the numbers.
"""
