"""Tasks and logged activities on records (issue 17, first point): planned follow-ups with a
due date and an assignee, and calls, meetings, e-mails and visits logged against a record.
Both obey the access policy of the record they belong to."""
