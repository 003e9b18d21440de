"""What a build writes and keeps: the manifest, artifacts, the run log, the build lock."""

# Where cfs keeps what it knows of a project between runs (never part of the project's
# history: see dirs.py), and the bytes of checksum before a sealed file's content
# (dirs.seal). Defined here, where importing them costs nothing: `cfs` reads the
# snapshot's list of paths before its other modules are imported (analysis/lookahead.py).
STATE_DIR = ".cfs"
SEAL_SIZE = 16
