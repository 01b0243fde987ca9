"""Customer pools (公海): records nobody works go back to a shared pool, from which others
claim them within limits. Definitions (``models.Pool``), the pool scope of the access
policy (``scope``), claiming and returning (``service``), the reclaim sweep
(``reclaim``) and the pages (``views``, ``views_admin``)."""
