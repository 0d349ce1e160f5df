"""vzgitops: a GitOps reconciler for OpenVZ containers.

Kept empty on purpose: the simulated vzctl/vzlist import `vzsim`, and every
simulated call is a new process, so importing the package must cost nothing.
"""

__version__ = "0.1.0"
