"""The runtime: the scoped query layer, the record service and the read services around it
(listing, lookup, field checks, bulk actions, sharing, who can see, export), how records
read on screen (``present``, ``rows``), and the pages (``views/``)."""
