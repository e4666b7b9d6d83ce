"""What admins manage: site preferences, staff accounts, report templates and the
registry upload's status."""
