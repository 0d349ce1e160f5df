"""A simulated OpenVZ 4.x hardware node: real `vzctl`/`vzlist` processes over a state dir.

`vzgitops sim init DIR` (see `cli`) writes `DIR/bin/vzctl` and `DIR/bin/vzlist`; each call
runs `vzctl.main` or `vzlist.main` in a fresh process, reproducing vzctl 4.11.1 output,
config files, exit codes and locking on an OpenVZ kernel. Tests and benchmarks drive it
through exactly the code path the reconciler uses on a real node.

It is its own distribution, vzgitops-sim (`sim/pyproject.toml`), never in the vzgitops wheel:
it imports from vzgitops only `reconciler.node.vzconf`, `reconciler.atomicwrite` and the exit-code
table, and vzgitops imports it only for `vzgitops sim`.

Nothing is imported here on purpose: every simulated call is a new process.
"""
