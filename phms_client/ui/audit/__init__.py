"""The auditor's workspace: review of the audit trail (activity, a patient's access
report, a staff member's activity, flags worth a look)."""
