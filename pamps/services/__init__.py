"""The rules and queries of each domain, written once and used by every face
(the native routes, the CLI, and any other API): a service takes the
database (and the rate limiter where it counts) and answers rows or raises
an error that carries its HTTP status (:mod:`pamps.errors`)."""
