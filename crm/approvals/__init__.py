"""Approvals (issue 17): a rule holds a change of a record (entering a stage, a number going
above a threshold) until approvers, in one or several steps, approve it; the record service
asks ``crm.approvals.hold.hold`` before it writes, and ``crm.approvals.service`` decides."""
