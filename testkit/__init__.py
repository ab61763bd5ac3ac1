"""The shared test kit of tests/ and bench/: real components started on this machine, and the helpers to
drive and measure them. One definition of each.

- processes: the shop's web server and Celery workers as subprocesses, `manage.py`, free ports
- rabbit: a private RabbitMQ node (never the shared one on 5672)
- smtp: a real SMTP server on 127.0.0.1 that records arrivals and can refuse, stall or answer late
- database: the database a subprocess should use, and databases of their own for benchmarks
- shopper: a browser-like HTTP client that shops through the web layer
- waiting, stats: waiting for a condition with a timeout; percentiles and latency summaries
"""
