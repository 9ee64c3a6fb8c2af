"""The planner's parts, one concern per module; `dekube_nspawn.plan.build_plan` runs them in order."""
