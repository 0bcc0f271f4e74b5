"""`python -m qbsync_dev` runs the `qbsync` command line."""

from qbsync_dev.cli import main

main()
