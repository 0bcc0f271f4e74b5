"""The scripted demo (issue 9): three tenants, a generated week of events, its expected outcome.

`generate_week(seed)` builds the events; `expected_outcome(week)` computes, from those
events and the demo's settings alone, what QuickBooks must hold afterwards (entities,
open errors by category, trial balance per tenant); `run_demo` drives a running stack
through it and `qbsync demo` prints the summary.
"""

from qbsync_dev.demo.expected import Expected, expected_outcome
from qbsync_dev.demo.model import DemoWeek, Planted
from qbsync_dev.demo.week import generate_week

__all__ = ["DemoWeek", "Expected", "Planted", "expected_outcome", "generate_week"]
