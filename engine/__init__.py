"""rulesync: Outreach sequence rulesets as code."""

__version__ = "0.1.0"
