"""The shared test kit of tests/ and bench/: real components started on this machine, and the helpers to
drive and measure them. One definition of each.

- processes: the shop's web server and Celery workers as subprocesses, `manage.py`, Python in a fresh
  interpreter, free ports
- rabbit: a private RabbitMQ node (never the shared one on 5672); deleting a run's queue from a broker
- cluster: a three-node RabbitMQ cluster of private nodes, for failover
- postgres: a private PostgreSQL server to stop and restart
- redis: a private Redis server (no persistence) to kill and start again
- smtp: a real SMTP server on 127.0.0.1 that records arrivals and can refuse, stall or answer late
- outbox: a running shop's emails: an order placed (and paid) through its web server, its outbox rows, the
  copies the SMTP server got, an invoice's PDF, an operator's resend
- crash_backend: an email backend whose sending kills the worker, for fault tests
- database: the database a subprocess should use, and databases of their own for benchmarks
- bulk_orders: a million orders written by PostgreSQL itself, for scale tests
- shopper: a browser-like HTTP client that shops through the web layer
- browser: Debian's Chromium through Playwright: browser contexts that save screenshots, axe-core's check
- pages: what a page the test client got says (the thank-you page's order, an outage's friendly 503)
- caches: the suite's own Redis database, or a skip when Redis does not answer
- payments: placing an order as checkout does, and speaking as a payment provider without a network
- photos: phone-sized JPEGs and small PNGs made with Pillow
- urls_with_media: the shop's URLs plus uploaded files, a ROOT_URLCONF for live-server tests
- waiting, stats: waiting for a condition with a timeout; percentiles and latency summaries
"""
