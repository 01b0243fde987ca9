"""Issue 19: pipeline analytics, the forecast with its targets, and dashboards
(``pipeline``, ``forecast``, ``targets``, ``dashboards``, ``tiles``, ``views``); the home
page blocks, usage recording and the adoption evaluation (``home``, ``usage``,
``adoption``, ``summary``, ``views_adoption``)."""
