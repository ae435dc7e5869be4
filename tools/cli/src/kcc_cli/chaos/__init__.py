"""`make chaos`: N replicas of every service under kill -9 and outages, proved by a ledger."""
