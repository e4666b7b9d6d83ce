"""What every workspace uses: the app context, the task runner, live updates, notices,
tables, dates, text limits and what the editing windows have in common."""
